"""Real Celery workers for tests: `celery -A ccpdash worker` subprocesses on the test database and Redis.

How to use it:

    from tests.polling import wait_for
    # tests/conftest.py loads this module as a plugin: the fixtures below are available everywhere

    @pytest.mark.django_db(transaction=True)    # the worker only sees committed rows
    class SomethingTests:
        def test_it_handles_a_task(self, worker):
            contact = lifecycle.create(...)      # on commit, submit_contact goes to the worker
            wait_for(lambda: state_of(contact) == ("handled", "EXTERNALLY_HANDLED"))

Fixtures (all function-scoped; each requests `transactional_db`, so it is torn down before pytest-django
flushes the database):
    worker         one started worker with an embedded beat (-B), so the periodic sweep runs.
    start_worker   a factory: start_worker(beat=False, concurrency=1, queues=None, CCE_CANCEL_LATENCY_SECONDS="5",
                   ...) starts one more worker, of every queue unless `queues` (`-Q`) names some; other
                   keyword arguments become environment variables of that worker only. Start at most one
                   with beat=True per test. All are stopped at the end.
    kill_worker    kill_worker(w) sends SIGKILL to w's whole process group (main process and pool
                   children), as a crash or an OOM kill would; with acks_late and reject_on_worker_lost
                   its unfinished message comes back only after the broker's visibility timeout, so
                   recovery is the sweep's and the reconciler's job. `w.kill()` does the same.

Every worker runs with DJANGO_SETTINGS_MODULE=tests.settings and CCPDASH_USE_TEST_DATABASE=1 (the test
database, never the real one), inherits REDIS_URL and the run's REDIS_PREFIX (its own queue and keys,
so a `make run` worker on the same Redis never takes a test's tasks), and gets the tiny time scales of
`TEST_TIME_SCALES` unless told otherwise. The queue is purged, and the reconcile and beat locks are
dropped, before the first worker of a test starts (stale messages of earlier tests would name contacts
that no longer exist; a lock a killed worker held would stall the next test's reconciles). A worker counts as started
once it answers a ping. Its log is in `w.log_path`; the tail is printed at teardown, which pytest shows
for a failed test.

`tests.polling.wait_for(predicate, timeout=...)` polls until the predicate returns something truthy:
assert what happens, never how fast (TRAPS.md). (It lives apart from this plugin module so that a test
module can import it without importing the plugin before pytest registers it.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ccpdash.celery import app

BASE_DIR = Path(__file__).resolve().parent.parent
CELERY = str(Path(sys.executable).parent / "celery")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

# Fast enough that a handled task takes a fraction of a second, slow enough to stay observable.
TEST_TIME_SCALES = {
    "CCE_SWEEP_SECONDS": "0.1",
    "CCE_HANDLE_TIME_SCALE": "0.01",
    "CCE_CANCEL_LATENCY_SECONDS": "0",
    "CCE_RECONCILE_SECONDS": "0.2",
    "CCE_RECONCILE_AFTER_SECONDS": "1",
    # A killed worker's embedded beat hands the periodic tasks to the next one within a second.
    "BEAT_LOCK_SECONDS": "1",
}

class WorkerProcess:
    """One `celery worker` subprocess in its own process group."""

    def __init__(self, log_dir: Path, *, beat: bool, concurrency: int, env: dict[str, str],
                 queues: str | None = None) -> None:
        self.nodename = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        self.log_path = log_dir / f"{self.nodename.split('@')[0]}.log"
        self.beat = beat
        self.concurrency = concurrency
        self.queues = queues  # `-Q`: None serves every queue of the app (settings.CELERY_TASK_QUEUES)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "CCPDASH_USE_TEST_DATABASE": "1",
            "PYTHONUNBUFFERED": "1",
            **TEST_TIME_SCALES,
            **env,
        }
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        command = [
            CELERY, "-A", "ccpdash", "worker", "-l", "info", "-n", self.nodename,
            "--pool", "prefork", "--concurrency", str(self.concurrency),
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]
        if self.queues:
            command += ["-Q", self.queues]
        if self.beat:
            command += ["-B", "-s", str(self.log_path.with_suffix(".beat-schedule"))]
        return command

    def start(self) -> WorkerProcess:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not app.control.ping(destination=[self.nodename], timeout=0.5, limit=1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"celery worker did not start:\n{self.log_tail()}")
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and pool children): a crash, not a shutdown."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM: running tasks finish); SIGKILL if it takes too long."""
        if not self.alive():
            return
        # To the main process only: it stops its pool children itself (a SIGTERM to the whole
        # group would kill them mid-task and log their loss as a crash).
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def purge_queue() -> int:
    """Drop every message waiting in this run's queues (live, periodic, bulk)."""
    return app.control.purge() or 0


def forget_worker_locks() -> None:
    """Delete the run's reconcile and beat locks, which an earlier test's SIGKILLed worker may still hold.

    The reconcile lock lives for the task's hard time limit (90 s): a worker killed mid-reconcile by a
    recovery test left it held, and the next test's throttle backlog, which only the reconciler drains
    as the window frees, waited out its 60 s timeout.
    """
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.delete(f"{settings.REDIS_PREFIX}:reconcile-lock", f"{settings.REDIS_PREFIX}:beat-lock")
    finally:
        client.close()


@pytest.fixture
def start_worker(transactional_db, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(*, beat: bool = True, concurrency: int = 2, queues: str | None = None, **env: str) -> WorkerProcess:
        if not started:
            purge_queue()
            forget_worker_locks()
        worker = WorkerProcess(tmp_path, beat=beat, concurrency=concurrency, queues=queues,
                               env={k: str(v) for k, v in env.items()})
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
    if started:
        purge_queue()  # leave nothing behind on a shared Redis
    for worker in started:
        print(f"--- {worker.nodename} (last lines) ---\n{worker.log_tail()}")


@pytest.fixture
def worker(start_worker: Callable[..., WorkerProcess]) -> WorkerProcess:
    return start_worker()


@pytest.fixture
def kill_worker() -> Callable[[WorkerProcess], None]:
    return WorkerProcess.kill
