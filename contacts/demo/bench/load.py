"""HTTP load for the benchmark: keep-alive asyncio clients that send requests, count the answers and time them.

Written on raw asyncio streams rather than an HTTP library: the load generator shares two cores with
the server it measures, so it must cost as little per request as possible, and it needs no pin. Each
client holds one HTTP/1.1 keep-alive connection (reopened when the server closes it). A request that
gets no answer within `REQUEST_TIMEOUT` counts as "timeout", one whose connection fails as "error".
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .stats import ms, per_second, percentile, share

REQUEST_TIMEOUT = 30.0

# (method, path, body, headers)
Request = tuple[str, str, bytes, dict[str, str]]


def task_request(index: int) -> Request:
    """One XML task create on the demo's task feed (100), for the Sales script selector (README "CCP API")."""
    body = (
        f"<Task><name>Bench {index}</name><title>Order {index}</title><scriptSelector>Sales</scriptSelector>"
        "<requeueOnRecovery>true</requeueOnRecovery><tags><tag>bench</tag></tags></Task>"
    ).encode()
    return "POST", "/ccp/rest/task/feed/100", body, {"Content-Type": "application/xml"}


def login_page_request(index: int) -> Request:
    """The trivial view: the login page (one template, no query), the baseline of every API figure."""
    return "GET", "/accounts/login/", b"", {}


class Connection:
    """One keep-alive HTTP/1.1 connection to `base_url`."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None
                      ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        try:
            status, response_headers = await self._read_head()
            answer = await self._read_body(response_headers)
        except BaseException:
            self.close()  # half a response left on the socket: never reuse it
            raise
        if response_headers.get("connection", "").lower() == "close":
            self.close()
        return status, answer

    async def _read_head(self) -> tuple[int, dict[str, str]]:
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        return status, headers

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk[:-2])
        length = int(headers.get("content-length", "0"))
        return await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Answers:
    """What the clients got back: answers by status (or "timeout"/"error"), latencies of the answered ones."""

    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    late_sends: int = 0  # paced load only: requests sent more than 100 ms after their planned time

    def record(self, status: int | str, seconds: float | None) -> None:
        self.statuses[status] += 1
        if seconds is not None:
            self.latencies.append(seconds)

    def figures(self, ok: int) -> dict:
        """Counts, the rate of `ok` answers over the whole run, the latency percentiles and the failure shares."""
        total = sum(self.statuses.values())
        server_errors = sum(n for status, n in self.statuses.items() if isinstance(status, int) and status >= 500)
        return {
            "requests": total,
            "ok": self.statuses[ok],
            "seconds": round(self.finished - self.started, 3),
            "ok_per_second": per_second(self.statuses[ok], self.finished - self.started),
            "p50_ms": ms(percentile(self.latencies, 50)),
            "p99_ms": ms(percentile(self.latencies, 99)),
            "max_ms": ms(max(self.latencies, default=None)),
            "by_status": {str(status): n for status, n in sorted(self.statuses.items(), key=str)},
            "share_5xx": share(server_errors, total),
            "share_not_ok": share(total - self.statuses[ok], total),
            "late_sends": self.late_sends,
        }


async def _send(connection: Connection, request: Request, answers: Answers) -> None:
    started = time.perf_counter()
    try:
        status, _ = await asyncio.wait_for(connection.request(*request), REQUEST_TIMEOUT)
    except TimeoutError:
        answers.record("timeout", None)
        connection.close()
        return
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        answers.record("error", None)
        connection.close()
        return
    answers.record(status, time.perf_counter() - started)


async def burst(base_url: str, make: Callable[[int], Request], count: int, clients: int) -> Answers:
    """`count` requests as fast as `clients` keep-alive connections can send them (closed loop)."""
    answers = Answers()
    indexes = iter(range(count))

    async def client() -> None:
        connection = Connection(base_url)
        try:
            for index in indexes:
                await _send(connection, make(index), answers)
        finally:
            connection.close()

    answers.started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    answers.finished = time.perf_counter()
    return answers


async def paced(base_url: str, make: Callable[[int], Request], rate: float, seconds: float, clients: int) -> Answers:
    """`rate` requests a second for `seconds` (open loop: each has its planned send time), over `clients` connections.

    A request waits for a free connection when all are busy; one sent more than 100 ms after its
    planned time counts in `late_sends`, so a server that cannot keep up shows in the figures
    instead of silently slowing the offered load down.
    """
    answers = Answers()
    count = int(rate * seconds)
    queue: asyncio.Queue[int | None] = asyncio.Queue()

    async def client() -> None:
        connection = Connection(base_url)
        try:
            while (index := await queue.get()) is not None:
                if time.perf_counter() - (answers.started + index / rate) > 0.1:
                    answers.late_sends += 1
                await _send(connection, make(index), answers)
        finally:
            connection.close()

    answers.started = time.perf_counter()
    workers = [asyncio.create_task(client()) for _ in range(clients)]
    for index in range(count):
        delay = answers.started + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(index)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    answers.finished = time.perf_counter()
    return answers
