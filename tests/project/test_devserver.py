"""`make run`'s console: every process's output in its log file, warnings and errors on the console too, and the
URL and logins printed again once everything answers (ccpdash.devserver, ccpdash.process_output).

The routing is tested on lines in the formats the processes really write (the formatters of settings.LOGGING,
Celery and Granian), and through real child processes; the system as a whole is not started here.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from pathlib import Path

from django.conf import settings
from granian.log import LOGGING_CONFIG as GRANIAN_LOGGING

from ccpdash import devserver
from ccpdash.celery import app as celery_app
from ccpdash.process_output import OutputRouter, record_level


def formatted(fmt: str, level: int, message: str = "a message") -> str:
    """One record at `level` as a formatter with `fmt` writes it, with the newline a StreamHandler adds."""
    record = logging.LogRecord("contacts.tasks", level, __file__, 1, message, None, None)
    record.processName = "MainProcess"
    return logging.Formatter(fmt).format(record) + "\n"


DJANGO = settings.LOGGING["formatters"]["plain"]["format"]
CELERY = celery_app.conf.worker_log_format
GRANIAN = GRANIAN_LOGGING["formatters"]["generic"]["fmt"]
TRACEBACK = ["Traceback (most recent call last):\n", '  File "x.py", line 1, in <module>\n', "ValueError: bug\n"]


class Routed:
    """An OutputRouter over in-memory files."""

    def __init__(self) -> None:
        self.log, self.console = io.StringIO(), io.StringIO()
        self.router = OutputRouter("worker", self.log, self.console, threading.Lock())

    def route(self, *lines: str, stderr: bool = True) -> list[bool]:
        return [self.router.route(line, stderr=stderr) for line in lines]


class RecordLevelTests:
    def test_it_reads_the_level_of_each_format_the_processes_write(self):
        for fmt in (DJANGO, CELERY, GRANIAN):
            for level in (logging.INFO, logging.WARNING, logging.ERROR):
                assert record_level(formatted(fmt, level)) == level, fmt

    def test_it_reads_a_python_warning_as_a_warning(self):
        line = "/srv/.venv/lib/celery/platforms.py:893: SecurityWarning: You're running the worker with superuser\n"
        assert record_level(line) == logging.WARNING

    def test_it_finds_no_record_in_a_traceback_a_banner_or_a_progress_line(self):
        for line in [*TRACEBACK, " -------------- worker@host v5.7.0 (collider)\n", "sent 20 · final 16\n"]:
            assert record_level(line) is None, line


class OutputRouterTests:
    def test_it_writes_every_line_to_the_log_file(self):
        routed = Routed()
        lines = [formatted(CELERY, logging.INFO), formatted(CELERY, logging.ERROR), *TRACEBACK]
        routed.route(*lines)
        assert routed.log.getvalue() == "".join(lines)

    def test_it_keeps_routine_info_off_the_console(self):
        routed = Routed()
        assert routed.route(formatted(DJANGO, logging.INFO), formatted(CELERY, logging.INFO),
                            formatted(GRANIAN, logging.INFO)) == [False, False, False]
        assert routed.console.getvalue() == ""

    def test_it_shows_warnings_and_errors_after_the_process_name(self):
        routed = Routed()
        warning, error = formatted(CELERY, logging.WARNING, "slow"), formatted(DJANGO, logging.ERROR, "broken")
        routed.route(warning, error)
        assert routed.console.getvalue() == f"worker   | {warning}worker   | {error}"

    def test_it_shows_a_traceback_with_its_error_and_hides_one_with_an_info_line(self):
        routed = Routed()
        assert routed.route(formatted(DJANGO, logging.ERROR), *TRACEBACK) == [True] * 4
        assert routed.route(formatted(DJANGO, logging.INFO), *TRACEBACK) == [False] * 4

    def test_it_shows_what_a_process_writes_to_stderr_before_any_record(self):
        # A crash before logging is set up: nothing formatted it.
        assert Routed().route(*TRACEBACK, stderr=True) == [True] * 3

    def test_it_keeps_stdout_before_any_record_in_the_file(self):
        banner, progress = " -------------- worker@host v5.7.0\n", "sent 20 · final 16\n"
        assert Routed().route(banner, progress, stderr=False) == [False, False]

    def test_it_continues_a_record_only_on_its_own_stream(self):
        routed = Routed()
        routed.route(formatted(CELERY, logging.ERROR), stderr=True)
        assert routed.route("sent 40 · final 36\n", stderr=False) == [False]


class ChildProcessTests:
    """Through real processes: the pipes, the pumps, the files, the exit."""

    SCRIPT = (
        "import logging, sys\n"
        f"logging.basicConfig(format={DJANGO!r}, level=logging.INFO)\n"
        "print('a banner', flush=True)\n"
        "logging.getLogger('contacts').info('routine')\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError:\n    logging.getLogger('contacts').exception('failed')\n"
        "sys.exit(3)\n"
    )

    def test_it_writes_the_whole_output_to_the_file_and_the_error_with_its_traceback_to_the_console(
        self, tmp_path: Path, capsys
    ):
        started = devserver.start("worker", [sys.executable, "-c", self.SCRIPT], tmp_path / "worker.log",
                                  threading.Lock())
        assert devserver.watch({"worker": started}) == 3
        started.log.close()
        log = (tmp_path / "worker.log").read_text()
        assert "a banner" in log and "INFO contacts: routine" in log and "ZeroDivisionError" in log
        shown = [line for line in capsys.readouterr().out.splitlines() if line.startswith("worker   | ")]
        assert shown[0].endswith("ERROR contacts: failed") and shown[-1].endswith("ZeroDivisionError: division by zero")
        assert not any("routine" in line or "a banner" in line for line in shown)

    def test_it_shows_the_last_lines_of_a_process_that_exits(self, tmp_path: Path, capsys):
        command = [sys.executable, "-c", "print('cannot reach ccpdash'); raise SystemExit(2)"]
        started = devserver.start("traffic", command, tmp_path / "traffic.log", threading.Lock())
        assert devserver.watch({"traffic": started}) == 2
        started.log.close()
        out = capsys.readouterr().out
        assert "traffic exited with code 2" in out and f"({tmp_path / 'traffic.log'})" in out
        assert out.rstrip().endswith("cannot reach ccpdash")


class Check:
    """A readiness check that answers False (or raises) a number of times, then True."""

    def __init__(self, failures: int, *, raises: bool = False) -> None:
        self.failures, self.raises, self.calls = failures, raises, 0

    def __call__(self) -> bool:
        self.calls += 1
        if self.calls <= self.failures:
            if self.raises:
                raise ConnectionRefusedError("nothing listens yet")
            return False
        return True


class AnnounceWhenReadyTests:
    def test_it_announces_once_when_every_check_has_answered(self):
        web, workers = Check(2, raises=True), Check(4)
        announced = []
        ready = devserver.announce_when_ready({"web": web, "workers": workers},
                                              lambda: announced.append((web.calls, workers.calls)),
                                              threading.Event(), interval=0)
        assert ready is True
        assert announced == [(3, 5)]  # once, after the last failure of each

    def test_it_asks_a_check_that_answered_no_more(self):
        web, workers = Check(0), Check(3)
        devserver.announce_when_ready({"web": web, "workers": workers}, lambda: None, threading.Event(), interval=0)
        assert (web.calls, workers.calls) == (1, 4)

    def test_it_gives_up_without_announcing_once_stopped(self):
        stop = threading.Event()
        stop.set()
        announced = []
        assert devserver.announce_when_ready({"web": Check(1)}, lambda: announced.append(1), stop, interval=0) is False
        assert announced == []


class ReadyTextTests:
    OUTPUT = ("Demo configuration restored. Logins (username / password, role):\n"
              "  superuser / superuser  (superuser)\n  supervisor / supervisor  (Supervisors)\n")

    def test_it_keeps_the_login_lines_of_seed_demos_output(self):
        assert devserver.login_lines(self.OUTPUT) == ["  superuser / superuser  (superuser)",
                                                      "  supervisor / supervisor  (Supervisors)"]

    def test_it_names_the_url_the_logins_and_every_log_file(self):
        text = devserver.ready_text("http://127.0.0.1:8000/", devserver.login_lines(self.OUTPUT),
                                    ["web", "worker", "beat", "traffic"])
        assert "ccpdash is ready at http://127.0.0.1:8000/" in text
        assert "  supervisor / supervisor  (Supervisors)" in text
        assert "var/log/: web.log, worker.log, beat.log, traffic.log, access.log" in text
        assert "DEMO_TRAFFIC=0" in text
        assert "Wall board for a large screen: http://127.0.0.1:8000/wall/" in text

    def test_it_leaves_the_traffic_out_when_there_is_none(self):
        assert "DEMO_TRAFFIC" not in devserver.ready_text("http://127.0.0.1:8000/", [], ["web", "worker"])
