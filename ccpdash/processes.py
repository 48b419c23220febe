"""The command lines of ccpdash's processes (web, worker, beat), one definition for every launcher.

`make run` (ccpdash.devserver), the benchmark and the tests start processes from these, so all of
them run the same server with the same options; the Procfile spells the same commands for hosts
that start processes themselves.
"""

from __future__ import annotations

import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def web(host: str, port: int | str, *, access_log: Path | None = None) -> list[str]:
    """The ASGI server serving HTTP and WebSockets (ccpdash.asgi:application)."""
    command = [str(BIN / "daphne"), "-b", host, "-p", str(port)]
    if access_log is not None:
        command += ["--access-log", str(access_log)]
    return [*command, "ccpdash.asgi:application"]


def worker(*, concurrency: int = 2, loglevel: str = "info", extra: tuple[str, ...] = ()) -> list[str]:
    """A Celery worker (prefork pool) for every queue of the app."""
    return [str(BIN / "celery"), "-A", "ccpdash", "worker", "-l", loglevel, "--concurrency", str(concurrency), *extra]


def beat(schedule: Path, *, loglevel: str = "info") -> list[str]:
    """Celery beat, the one process that sends the periodic tasks."""
    return [str(BIN / "celery"), "-A", "ccpdash", "beat", "-l", loglevel, "-s", str(schedule)]
