"""A running ccpdash for the benchmark: web, worker and beat processes on the current database, as the README runs them.

The command lines are `ccpdash.processes`' (the ones `make run` starts); each process gets the
environment of this one plus DATABASE_URL of Django's current default database, the project's own
settings module and the scenario's time scales, and writes its log to `workdir`. Every process is
started in a session of its own, so stopping one stops its children too.
"""

from __future__ import annotations

import inspect
import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote

import psutil
from celery import current_app
from django.conf import settings
from django.db import connection

from ccpdash import processes
from contacts.demo.servers import free_port

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0

# The measured configuration: handle times ×0.01 (3–10 s become 30–100 ms); the rest as `make run`.
SCENARIO_ENV = {"CCE_HANDLE_TIME_SCALE": "0.01"}


def database_url(name: str | None = None) -> str:
    """DATABASE_URL of Django's current default database, or of database `name` on the same server."""
    db = connection.settings_dict
    credentials = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{credentials}@{host}:{port}/{quote(name or db['NAME'], safe='')}"


class Process:
    """One started process (and its children), its log and its psutil handle."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name, self.command, self.log_path = name, command, log_path
        with open(log_path, "ab") as log:
            self.popen = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.handle = psutil.Process(self.popen.pid)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tree(self) -> list[psutil.Process]:
        """The process and its live children (a prefork worker's pool, a server's workers)."""
        try:
            return [self.handle, *self.handle.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        """SIGTERM to the main process (a warm shutdown: it stops its children), SIGKILL to the group if it lingers."""
        if not self.alive():
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(STOP_TIMEOUT)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class System:
    """Web, worker and beat of ccpdash on the current default database; use as a context manager."""

    def __init__(self, workdir: Path, *, env: dict[str, str] | None = None, worker_concurrency: int = 2) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.worker_concurrency = worker_concurrency
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "ccpdash.settings",
            "DATABASE_URL": database_url(),
            "PYTHONUNBUFFERED": "1",
            **SCENARIO_ENV,
            **(env or {}),
        }
        self.web: Process | None = None
        self.worker: Process | None = None
        self.periodic: Process | None = None
        self.beat: Process | None = None
        self.workers_started = 0

    def __enter__(self) -> System:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.start_web()
        self.start_worker()
        self.start_periodic_worker()
        self.beat = Process("beat", processes.beat(self.workdir / "celerybeat-schedule", loglevel="info"),
                            self.env, self.workdir / "beat.log")

    def start_web(self) -> None:
        command = processes.web("127.0.0.1", self.port, **self._web_options())
        self.web = Process("web", command, self.env, self.workdir / "web.log")
        self._wait(self.web, self._web_answers)

    def _web_options(self) -> dict:
        # make run writes the access log to a file; the benchmark does the same where web() offers it.
        if "access_log" in inspect.signature(processes.web).parameters:
            return {"access_log": self.workdir / "access.log"}
        return {}

    def _web_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def start_worker(self) -> None:
        """Start the worker (again): `--concurrency worker_concurrency`, ready once it answers a ping."""
        self.workers_started += 1
        nodename = f"bench-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
        command = processes.worker(concurrency=self.worker_concurrency, nodename=nodename)
        self.worker = Process("worker", command, self.env, self.workdir / f"worker-{self.workers_started}.log")
        self._wait(self.worker, lambda: bool(current_app.control.ping(destination=[nodename], timeout=0.5)))

    def start_periodic_worker(self) -> None:
        """The worker of beat's periodic tasks (README "Workers and queues"); it keeps running when the worker stops."""
        nodename = f"bench-periodic-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
        command = processes.periodic_worker(nodename=nodename)
        self.periodic = Process("periodic", command, self.env, self.workdir / "worker-periodic.log")
        self._wait(self.periodic, lambda: bool(current_app.control.ping(destination=[nodename], timeout=0.5)))

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def _wait(self, process: Process, ready) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if not process.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the benchmark's {process.name} did not start:\n{process.log_tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        for process in (self.beat, self.periodic, self.worker, self.web):
            if process is not None:
                process.stop()

    def connection_cap(self) -> dict:
        """The most PostgreSQL connections ccpdash may hold: its processes' pools, within what the server admits."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('max_connections')::int - "
                           "current_setting('superuser_reserved_connections')::int")
            server = cursor.fetchone()[0]
        pool = connection.settings_dict.get("OPTIONS", {}).get("pool")
        max_size = pool.get("max_size") if isinstance(pool, dict) else None
        if not max_size:
            return {"cap": server, "source": f"PostgreSQL max_connections − superuser_reserved_connections = {server}"}
        count = sum(len(process.tree()) for process in self.processes().values())
        return {"cap": min(server, max_size * count),
                "source": f"pool of at most {max_size} (DB_POOL_MAX_SIZE) × {count} processes (web, the workers and "
                          f"their pools, beat), within the {server} PostgreSQL admits"}

    def env_summary(self) -> dict:
        """What the processes ran with, for the results: the scenario's settings and the command lines."""
        return {
            **{name: self.env[name] for name in SCENARIO_ENV},
            "worker_concurrency": self.worker_concurrency,
            "commands": {name: " ".join(Path(p.command[0]).name if i == 0 else part for i, part in enumerate(p.command))
                         for name, p in self.processes().items()},
        }

    def processes(self) -> dict[str, Process]:
        return {p.name: p for p in (self.web, self.worker, self.periodic, self.beat) if p is not None}

    def worker_logs(self) -> list[Path]:
        return sorted(self.workdir.glob("worker-*.log"))
