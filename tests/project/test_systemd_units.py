"""The sample systemd units (docs/systemd/): they start what the Procfile starts and name only each other."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest
from django.conf import settings

UNITS = Path(settings.BASE_DIR, "docs", "systemd")
VENV_BIN = "/srv/ccpdash/.venv/bin/"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string((UNITS / name).read_text())
    return parser


def started(name: str) -> str:
    """The command line the unit runs, as the Procfile spells it: systemd's escapes undone, the shell and the
    virtualenv's path left out."""
    command = unit(name)["Service"]["ExecStart"].replace("$$", "$").replace("%%", "%")
    if command.startswith("/bin/sh -c "):
        command = shlex.split(command)[2].removeprefix("exec ")
    return command.replace(VENV_BIN, "")


def procfile(process: str) -> str:
    line = next(line for line in Path(settings.BASE_DIR, "Procfile").read_text().splitlines()
                if line.startswith(f"{process}:"))
    return line.removeprefix(f"{process}:").strip()


@pytest.mark.parametrize(("unit_name", "process"), [("ccpdash-web.service", "web"),
                                                     ("ccpdash-worker.service", "worker"),
                                                     ("ccpdash-periodic.service", "periodic")])
def test_each_unit_runs_its_procfile_command(unit_name, process):
    assert started(unit_name) == procfile(process)


def test_beat_runs_the_procfiles_beat_with_its_schedule_in_the_state_directory():
    beat = unit("ccpdash-beat.service")["Service"]
    assert started("ccpdash-beat.service") == procfile("beat").replace("var/", "/var/lib/ccpdash/")
    assert beat["StateDirectory"] == "ccpdash"


def test_the_metrics_directory_is_emptied_before_any_process_that_counts_starts():
    for name in ("ccpdash-web.service", "ccpdash-worker.service", "ccpdash-periodic.service"):
        section = unit(name)["Unit"]
        assert "ccpdash-metrics-dir.service" in section["Requires"].split()
        assert "ccpdash-metrics-dir.service" in section["After"].split()
    assert started("ccpdash-metrics-dir.service") == "python manage.py clear_metrics"


def test_every_unit_named_is_one_of_the_samples():
    names = {path.name for path in UNITS.iterdir()}
    for name in names:
        text = (UNITS / name).read_text()
        for key in ("Requires", "After", "Wants", "PartOf", "WantedBy"):
            for value in re.findall(rf"^{key}=(.*)$", text, flags=re.M):
                named = {item for item in value.split() if item.startswith("ccpdash")}
                assert named <= names, (name, key, named - names)
