"""The web server ccpdash runs (ccpdash.processes.web, README "Web server"), started for a test on the test database.

Started as a subprocess the way tests/workers.py starts Celery workers (tests.settings with
CCPDASH_USE_TEST_DATABASE=1, inheriting the run's REDIS_PREFIX), so a test meets the same server,
options and request limits as production; WhiteNoise serves the static files, as it does there.
"""

from __future__ import annotations

import os
from pathlib import Path

from ccpdash import processes
from contacts.demo.servers import ServerProcess, free_port


def start_web_server(log_dir: Path, *, workers: int | None = None, env: dict[str, str] | None = None) -> ServerProcess:
    """processes.web() on a free port, on the test database (created by pytest-django before this runs).

    `workers` defaults to production's number; `env` adds settings (environment variables) to the server's.
    """
    port = free_port()
    server_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "CCPDASH_USE_TEST_DATABASE": "1",
                  "PYTHONUNBUFFERED": "1", **(env or {})}
    command = processes.web("127.0.0.1", port, **({"workers": workers} if workers else {}))
    return ServerProcess(command, server_env, log_dir / f"web-{port}.log", port).start()
