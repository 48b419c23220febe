"""Measurements behind `manage.py compare_servers`: ASGI servers side by side on ccpdash's own workload.

Each candidate runs as a subprocess on the same throw-away database and private Redis namespace. The
load comes from asyncio clients in the measuring process (HTTP/1.1 with keep-alive; the `websockets`
client, offering per-message deflate as browsers do, for the dashboard's socket) and, for the fan-out,
from a publisher subprocess that sends to the dashboard group as the broadcast does. The load
generator shares the machine's cores with the server: on a shared 2-core machine absolute figures
drift, and the ratio to Daphne measured in the same round is what says which server is faster.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import psutil
import websockets
from channels.layers import get_channel_layer
from django.db import connections

from ccpdash import processes
from contacts.live.hub import unpack

APP = "ccpdash.asgi:application"
BIN = processes.BIN
PAGE = b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: ccpdash-compare\r\n\r\n"
TASK_XML = b"<Task><name>n</name><title>t</title><scriptSelector>Sales</scriptSelector></Task>"
CREATE = (
    b"POST /ccp/rest/task/feed/100 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: ccpdash-compare\r\n"
    b"Content-Type: application/xml\r\nContent-Length: %d\r\n\r\n%s" % (len(TASK_XML), TASK_XML)
)


def candidate_command(name: str, host: str, port: int | str, workers: int = 1) -> list[str]:
    """The command line of one candidate; `chosen` is what ccpdash runs (ccpdash.processes.web)."""
    port = str(port)
    if name == "chosen":
        return processes.web(host, port, workers=workers)
    if name == "daphne":
        if workers != 1:
            raise ValueError("daphne runs one process (more need a process manager sharing the socket)")
        return [str(BIN / "daphne"), "-v", "0", "-b", host, "-p", port, APP]  # -v 0: no access log
    if name.startswith("uvicorn"):
        ws = "websockets-sansio" if name == "uvicorn-sansio" else "websockets"
        deflate = "true" if name == "uvicorn-deflate" else "false"
        return [str(BIN / "uvicorn"), "--host", host, "--port", port, "--workers", str(workers),
                "--loop", "uvloop", "--http", "httptools", "--ws", ws, "--ws-per-message-deflate", deflate,
                "--lifespan", "off", "--no-access-log", "--log-level", "warning", APP]
    if name == "granian":
        return [str(BIN / "granian"), "--interface", "asginl", "--loop", "uvloop", "--host", host, "--port", port,
                "--workers", str(workers), "--log-level", "warning", APP]
    if name == "hypercorn":
        return [str(BIN / "hypercorn"), "-k", "uvloop", "-b", f"{host}:{port}", "-w", str(workers),
                "--log-level", "warning", APP]
    raise ValueError(f"unknown server {name!r}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server about to be started)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One server under test, in its own process group, with its log in a file."""

    running: set[ServerProcess] = set()  # stop_all() ends them, e.g. when the run itself is told to stop

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path, port: int) -> None:
        self.command, self.env, self.log_path, self.port = command, env, log_path, port
        self.process: subprocess.Popen | None = None

    @classmethod
    def stop_all(cls) -> None:
        for server in list(cls.running):
            server.stop()

    def start(self, timeout: float = 60.0) -> ServerProcess:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, cwd=Path(__file__).resolve().parents[2])
        self.running.add(self)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.command[0]} did not start:\n{self.log_tail()}")
            time.sleep(0.2)
        return self

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/accounts/login/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def cpu_seconds(self) -> float:
        """User + system CPU of the server and all its worker processes so far."""
        try:
            root = psutil.Process(self.process.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for process in tree:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def stop(self) -> None:
        self.running.discard(self)
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class BackendCounter:
    """The most PostgreSQL connections to the database seen while it runs (polled from a thread)."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> BackendCounter:
        if connections["default"].vendor == "postgresql":
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _poll(self) -> None:
        try:
            with connections["default"].cursor() as cursor:
                while not self._stop.wait(self.interval):
                    cursor.execute("SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database()")
                    self.peak = max(self.peak, cursor.fetchone()[0])
        finally:
            connections.close_all()


# --- HTTP ---

async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; (status, whether the server keeps the connection open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection") != "close"


async def http_load(port: int, request: bytes, *, clients: int, seconds: float) -> dict:
    """`clients` keep-alive connections send `request` back to back for `seconds`."""
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0

    async def client() -> None:
        nonlocal errors
        while loop.time() < stop_at:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                errors += 1
                await asyncio.sleep(0.05)
                continue
            try:
                keep = True
                while keep and loop.time() < stop_at:
                    started = time.perf_counter()
                    writer.write(request)
                    status, keep = await _read_response(reader)
                    latencies.append(time.perf_counter() - started)
                    statuses[status] += 1
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
            finally:
                writer.close()

    started = loop.time()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = loop.time() - started
    return {
        "requests": len(latencies), "per_second": round(len(latencies) / elapsed, 1),
        **_percentiles(latencies), "statuses": dict(sorted(statuses.items())),
        "non_2xx": sum(n for code, n in statuses.items() if not 200 <= code < 300), "errors": errors,
    }


def _percentiles(seconds: list[float]) -> dict:
    if len(seconds) < 2:
        return {"p50_ms": None, "p99_ms": None}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49] * 1000, 1), "p99_ms": round(cuts[98] * 1000, 1)}


# --- WebSocket fan-out ---

def sample_event(tag: str, seq: int) -> dict:
    """An event the size and shape of contacts.live.broadcast.transition_event, stamped for the measurement."""
    return {
        "id": seq, "contact": "k3J9x2LmQp7RtV5wZ8aB", "kind": "task", "rule": "T3",
        "from": ["queued", "EXTERNALLY_ROUTED"], "to": ["reserved", "EXTERNALLY_ROUTED"], "source": "cce",
        "user": None, "comment": "", "at": "2026-01-01T12:00:00.000000+00:00", "feed": 100, "mrd": 5000,
        "script_selector": "Sales", "name": "Ada Lovelace", "title": "Order 4711 question",
        "cce_script_selector": "Sales", "created": "2026-01-01T11:59:58.000000+00:00", "estimated_wait": 12,
        "attempt": 1, "cce_task_id": "5000-000123", "agent_id": "agent-7",
        "bench": {"tag": tag, "seq": seq, "sent": time.time()},
    }


async def publish(group: str, count: int, rate: float, tag: str) -> dict:
    """Send `count` events to `group` at `rate` a second from one event loop; when it began, the rate reached.

    One loop (and so one channels-redis connection pool) for the whole run, so the publisher is not
    what limits the figures; the web process's side of the fan-out is what is measured.
    """
    layer = get_channel_layer()
    loop = asyncio.get_running_loop()
    first_sent, started = time.time(), loop.time()
    for seq in range(count):
        delay = started + seq / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await layer.group_send(group, {"type": "contact.event", "event": sample_event(tag, seq)})
    return {"first_sent": first_sent, "per_second": round(count / max(loop.time() - started, 1e-9), 1)}


async def fanout(port: int, cookie: str, *, sockets: int, events: int, start_publisher, settle: float = 3.0) -> dict:
    """Open `sockets` dashboards, have `start_publisher(tag)` send `events` events, count what arrives."""
    tag = os.urandom(6).hex()
    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{port}"}
    latencies: list[float] = []
    last_seen = [0.0]
    extensions: Counter[str] = Counter()
    gate = asyncio.Semaphore(25)

    async def connect():
        async with gate:
            try:
                ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/dashboard", additional_headers=headers,
                                              open_timeout=20, max_queue=None, ping_interval=None)
            except (OSError, websockets.WebSocketException, TimeoutError):
                return None
            extensions[ws.response.headers.get("Sec-WebSocket-Extensions", "none").split(";")[0]] += 1
            return ws

    async def receive(ws) -> None:
        try:
            async for frame in ws:
                now = time.time()
                for message in unpack(json.loads(frame)):
                    stamp = message.get("event", {}).get("bench")
                    if stamp and stamp["tag"] == tag:
                        latencies.append(now - stamp["sent"])
                        last_seen[0] = now
        except websockets.ConnectionClosed:
            pass

    opened = [ws for ws in await asyncio.gather(*(connect() for _ in range(sockets))) if ws is not None]
    readers = [asyncio.create_task(receive(ws)) for ws in opened]
    publisher = start_publisher(tag)
    while publisher.poll() is None:
        await asyncio.sleep(0.1)
    expected = events * len(opened)
    quiet_since = time.monotonic()
    seen = -1
    while len(latencies) < expected and time.monotonic() - quiet_since < settle:
        if len(latencies) != seen:
            seen, quiet_since = len(latencies), time.monotonic()
        await asyncio.sleep(0.05)
    await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    for reader in readers:
        reader.cancel()
    sent = _publisher_report(publisher)
    span = max(last_seen[0] - sent.get("first_sent", time.time()), 1e-9)
    return {
        "sockets": sockets, "opened": len(opened), "events": events, "expected": expected,
        "delivered": len(latencies), "percent": round(100 * len(latencies) / expected, 1) if expected else 0.0,
        "per_second": round(len(latencies) / span, 1) if latencies else 0.0, **_percentiles(latencies),
        "extensions": dict(extensions), "published_per_second": sent.get("per_second"),
    }


def _publisher_report(publisher: subprocess.Popen) -> dict:
    """The publisher prints publish()'s answer as its last line of JSON."""
    lines = (publisher.stdout.read() or b"").decode(errors="replace").strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else {}
    except ValueError:
        return {}


# --- Oversized and slow requests ---

HEAD = b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
LONG_URL = b"GET /accounts/login/?q=" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
BIG_HEADERS = HEAD + b"".join(b"X-Pad-%d: %s\r\n" % (n, b"b" * 1000) for n in range(70)) + b"\r\n"


async def first_line(port: int, request: bytes, timeout: float = 10.0) -> str:
    """The status code the server answers `request` with, or what it did instead ("closed", "no answer")."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        return line.split(b" ")[1].decode() if line.startswith(b"HTTP/") else "closed"
    except TimeoutError:
        return "no answer"
    except OSError:
        return "closed"
    finally:
        writer.close()


async def drip(port: int, prefix: bytes, payload: bytes, *, patience: float) -> dict:
    """Send `prefix`, then `payload` one byte a second: when and how the server ends it (if within `patience`)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(prefix)
    started = time.monotonic()

    async def trickle() -> None:
        for byte in payload:
            writer.write(bytes([byte]))
            await asyncio.sleep(1.0)

    sender = asyncio.create_task(trickle())
    try:
        line = await asyncio.wait_for(reader.readline(), patience)
        outcome = f"answered {line.split(b' ')[1].decode()}" if line.startswith(b"HTTP/") else "closed"
    except TimeoutError:
        outcome = "still open"
    except OSError:
        outcome = "reset"
    finally:
        sender.cancel()
        writer.close()
    return {"outcome": outcome, "after_s": round(time.monotonic() - started, 1)}


async def probe_limits(port: int, *, patience: float) -> dict:
    """What the server (with ccpdash's guard) does with a 20 KB URL, 70 KB of headers and slow-drip requests."""
    slow_header = b"X-Slow: " + b"s" * 200 + b"\r\n\r\n"
    body = TASK_XML * 3
    body_head = (b"POST /ccp/rest/task/feed/100 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body))
    url, headers = await first_line(port, LONG_URL), await first_line(port, BIG_HEADERS)
    slow_headers, slow_body = await asyncio.gather(
        drip(port, HEAD, slow_header, patience=patience), drip(port, body_head, body, patience=patience)
    )
    return {"20 KB URL": url, "70 KB headers": headers, "slow headers": slow_headers, "slow body": slow_body}


def run(coroutine):
    """Run a measurement coroutine on uvloop (a cheaper client leaves more of the cores to the server)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)
