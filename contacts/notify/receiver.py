"""A local webhook receiver: takes ccpdash's notifications, checks each signature, drops repeated delivery ids.

`manage.py webhook_receiver` runs it and prints what arrives; the tests run the same class in a thread.
How it answers can be scripted per request, to try retries and timeouts:

    ok      200 (also for a repeated delivery id, which it records as a duplicate and drops)
    fail    500, and the request is not taken
    late    taken, then answered only after `late_seconds` (the sender times out and retries: the retry
            is then a duplicate, which is how a receiver that dedupes by id sees a message once)
    hang    no answer until the receiver stops (or `release()`)

After the script, every request is `ok`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import signing

OK, FAIL, LATE, HANG = "ok", "fail", "late", "hang"
BODY_MAX = 1024 * 1024


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    action: str
    problem: str | None  # why the signature does not verify; None if it does
    duplicate: bool = False
    checked: bool = True  # False: the receiver has no secret to check with

    @property
    def delivery_id(self) -> str:
        return self.headers.get(signing.DELIVERY_HEADER, "")

    @property
    def verified(self) -> bool:
        return self.checked and self.problem is None

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str = ""
    host: str = "127.0.0.1"
    port: int = 0
    script: list[str] = field(default_factory=list)
    late_seconds: float = 10.0
    on_request: Callable[[Received], None] | None = None
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._seen: set[str] = set()
        self._server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        self._server.daemon_threads = True  # a hanging answer never keeps the process from exiting
        self.port = self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    @property
    def taken(self) -> list[Received]:
        """The requests it acted on: verified, not a duplicate, not refused, not left hanging."""
        return [r for r in list(self.received) if r.action in (OK, LATE) and not r.duplicate and r.problem is None]

    def start(self) -> Receiver:
        # A short poll, so stop() returns at once (the tests start and stop one receiver each).
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook-receiver",
                         daemon=True).start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def release(self) -> None:
        self._released.set()

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def take(self, path: str, headers: dict[str, str], body: bytes) -> Received:
        """Record one request and decide its answer (the handler then waits and answers as it says)."""
        with self._lock:
            action = self.script.pop(0) if self.script else OK
            delivery_id = headers.get(signing.DELIVERY_HEADER, "")
            problem = None
            if self.secret:
                problem = signing.verify(self.secret, headers.get(signing.TIMESTAMP_HEADER, ""),
                                         headers.get(signing.SIGNATURE_HEADER, ""), body)
            duplicate = action in (OK, LATE) and bool(delivery_id) and delivery_id in self._seen
            if action in (OK, LATE) and problem is None and delivery_id:
                self._seen.add(delivery_id)
            received = Received(path, headers, body, action, problem, duplicate, checked=bool(self.secret))
            self.received.append(received)
        if self.on_request is not None:
            self.on_request(received)
        return received


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = min(int(self.headers.get("Content-Length") or 0), BODY_MAX)
            body = self.rfile.read(length)
            received = receiver.take(self.path, dict(self.headers.items()), body)
            if received.action == HANG:
                receiver._released.wait()
                return
            if received.action == LATE:
                receiver._released.wait(receiver.late_seconds)
            if received.action == FAIL:
                self._answer(500, b"failing on purpose (--fail-first)\n")
            elif received.checked and received.problem:
                self._answer(400, f"signature not verified: {received.problem}\n".encode())
            else:
                self._answer(200, b"duplicate, dropped\n" if received.duplicate else b"ok\n")

        def _answer(self, code: int, text: bytes) -> None:
            try:
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
            except OSError:
                pass  # the sender gave up waiting (its timeout) and closed the connection

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's name
            pass  # the command prints each request its own way

    return Handler
