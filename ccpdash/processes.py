"""The command lines of ccpdash's processes (web, worker, beat), one definition for every launcher.

`make run` (ccpdash.devserver), the benchmark and the tests start processes from these, so all of
them run the same server with the same options; the Procfile spells the same commands for hosts
that start processes themselves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
# Web processes on one machine (README "Web server": measured on 2 cores with the load beside them).
WEB_PROCESSES = 2
# A client that has begun a request gets this long to send all of its headers (slow-drip clients).
HEADER_TIMEOUT_SECONDS = 10


def web(host: str, port: int | str, *, access_log: Path | None = None, workers: int = WEB_PROCESSES) -> list[str]:
    """Granian serving ccpdash.asgi:application, HTTP and WebSockets (README "Web server" says why).

    `asginl` is ASGI without the lifespan protocol, which Channels' router does not speak. `workers`
    processes share the port; one that dies is started again. ccpdash.asgi refuses oversized requests
    and times out slow bodies; the header timeout is Granian's own. With `access_log`, one line per
    request goes to that file, through a logging configuration written beside it (Granian writes its
    access log only through Python logging).
    """
    command = [
        str(BIN / "granian"), "--interface", "asginl", "--loop", "uvloop", "--host", host, "--port", str(port),
        "--workers", str(workers), "--respawn-failed-workers",
        "--http1-header-read-timeout", str(HEADER_TIMEOUT_SECONDS * 1000),
    ]
    if access_log is not None:
        command += ["--access-log", "--log-config", str(_access_log_config(access_log))]
    return [*command, "ccpdash.asgi:application"]


def _access_log_config(access_log: Path) -> Path:
    """Write the logging configuration that sends Granian's access log to `access_log`; returns its path."""
    config = {
        "handlers": {
            "console": {"formatter": "generic", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
            "access": {"formatter": "access", "class": "logging.FileHandler", "filename": str(access_log)},
        },
        "loggers": {
            "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }
    path = access_log.with_name(f"{access_log.name}.logging.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))
    return path


def worker(*, concurrency: int = 2, loglevel: str = "info", nodename: str = "worker@%h",
           extra: tuple[str, ...] = ()) -> list[str]:
    """The Celery worker (prefork pool) of live work, routing passes and bulk jobs (settings.LIVE_QUEUE,
    ROUTING_QUEUE, BULK_QUEUE); it takes from the queues in turn, so a routing pass never waits behind
    every message of a burst."""
    from django.conf import settings

    queues = f"{settings.LIVE_QUEUE},{settings.ROUTING_QUEUE},{settings.BULK_QUEUE}"
    return _celery_worker(queues, concurrency, loglevel, nodename, extra)


def periodic_worker(*, concurrency: int = 2, loglevel: str = "info", nodename: str = "periodic@%h",
                    extra: tuple[str, ...] = ()) -> list[str]:
    """The Celery worker of beat's periodic tasks only (settings.PERIODIC_QUEUE): never behind live work."""
    from django.conf import settings

    return _celery_worker(settings.PERIODIC_QUEUE, concurrency, loglevel, nodename, extra)


def _celery_worker(queues: str, concurrency: int, loglevel: str, nodename: str, extra: tuple[str, ...]) -> list[str]:
    # -n: two workers on one host need distinct node names (%h is the host name).
    return [str(BIN / "celery"), "-A", "ccpdash", "worker", "-l", loglevel, "-Q", queues, "-n", nodename,
            "--concurrency", str(concurrency), *extra]


def beat(schedule: Path, *, loglevel: str = "info") -> list[str]:
    """Celery beat, the one process that sends the periodic tasks."""
    return [str(BIN / "celery"), "-A", "ccpdash", "beat", "-l", loglevel, "-s", str(schedule)]
