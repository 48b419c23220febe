"""manage.py benchmark: the quick run produces every figure, and the push-latency figure measures the broadcast.

The first two start real web, worker and beat processes on PostgreSQL (marker `postgres`; CI runs them). Speed is
never asserted: the quick run must only produce every figure, and the probe must see a delay it
injects into the broadcast (`BROADCAST_DELAY_SECONDS`) in the commit → dashboard latency it reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from contacts.demo.bench import report, scenarios, setup
from contacts.demo.bench.system import System

DELAY = 0.3
# A handful of contacts, slowly: enough events for a median, too few for the delayed run to queue up much.
PROBE = scenarios.Sizes(steady_rate=2.0, steady_seconds=5.0, steady_clients=2, settle_timeout=60.0)


def run_quick(output: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ccpdash.settings"}
    return subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "benchmark", "--quick", "--output", str(output)],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.mark.postgres
@pytest.mark.browser
class QuickRunTests:
    def test_it_produces_every_figure_and_saves_them(self, tmp_path: Path) -> None:
        finished = run_quick(tmp_path)
        assert finished.returncode == 0, finished.stderr[-4000:]
        [json_path] = tmp_path.glob("*-quick.json")
        saved = json.loads(json_path.read_text())
        assert saved["missing"] == []
        assert [f for f in saved["figures"] if f["value"] is None] == []
        assert {"API creates/s", "commit → dashboard p99", "created → queued", "queued → handled",
                "PostgreSQL connections held by ccpdash, peak"} <= {f["name"] for f in saved["figures"]}
        assert saved["machine"]["postgresql"] and saved["machine"]["git commit"]
        assert json_path.with_suffix(".md").read_text().startswith("# ccpdash benchmark — quick run")
        assert "API creates/s" in finished.stdout


def push_latency(workdir: Path, env: dict[str, str]) -> dict:
    """The steady scenario's dashboards and Chromium page on a system started with `env`."""
    with System(workdir, env=env) as system:
        figures = scenarios.Bench(system, PROBE, progress=print).steady(2, browser=True)
    return {"dashboard": figures["dashboard"], "browser": figures["browser"]}


@pytest.mark.postgres
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
class PushLatencyProbeTests:
    def test_it_shows_a_delay_injected_in_the_broadcast(self, tmp_path: Path) -> None:
        setup.configure()
        plain = push_latency(tmp_path / "plain", {})
        delayed = push_latency(tmp_path / "delayed", {"BROADCAST_DELAY_SECONDS": str(DELAY)})
        for part in ("dashboard", "browser"):
            assert plain[part]["min_ms"] is not None and delayed[part]["min_ms"] is not None, (plain, delayed)
            # Every event waits DELAY after its commit before it is sent: each delivery counts it...
            assert delayed[part]["min_ms"] >= DELAY * 1000, (part, plain, delayed)
            # ...so the median delivery is at least DELAY later than the fastest one without it.
            assert delayed[part]["p50_ms"] >= plain[part]["min_ms"] + DELAY * 1000, (part, plain, delayed)


class ReportTests:
    def test_it_judges_a_figure_against_its_target_and_says_by_how_much(self) -> None:
        assert report.figure("s", "rate", 240.0, target=(">=", 300, "now"))["verdict"] == "missed by 60 (20% short)"
        assert report.figure("s", "rate", 320.0, target=(">=", 300, "now"))["verdict"] == "met"
        assert report.figure("s", "p99", 150.0, target=("<=", 100, "later"))["verdict"] == "missed by 50 (50% over)"

    def test_it_puts_each_figure_beside_its_baseline_as_a_ratio(self) -> None:
        item = report.figure("s", "creates", 150.0, baseline=("trivial view", 600.0))
        assert item["ratio"] == 0.25 and item["baseline"] == {"name": "trivial view", "value": 600.0}

    def test_it_lists_a_figure_that_was_not_produced_as_missing(self) -> None:
        items = [report.figure("s", "made", 1.0), report.figure("s", "not made", None, baseline=("b", 2.0))]
        assert report.missing(items) == ["s: not made"]
        assert "MISSING" in report.table(items)

    def test_it_expects_the_export_only_at_the_sizes_it_was_measured_at(self) -> None:
        timed = {"10": {"ms": 5.0, "status": 200, "queries": 3}, "1000": {"ms": 6.0, "status": 200, "queries": 3}}
        reads = {"sizes": [10, 1000], "reads": {"list": timed}, "export": {"10": {"status": 200}},
                 "export_peak_bytes": {"10": 2**20}}
        names = [item["name"] for item in report.read_figures(reads)]
        assert "CSV export peak memory at 10 contacts" in names
        assert not any("export peak memory at 1,000" in name for name in names)
        assert report.missing(report.read_figures(reads)) == []

