"""Lightweight live dashboards: N WebSocket clients on /ws/dashboard that count and time every frame they get.

They run in a child process of their own (`Fleet`), so their frames never wait behind the load
generator's work in the parent and the parent never waits behind theirs. Each client is a minimal
WebSocket client on a raw asyncio protocol: it stamps every chunk of bytes with the wall clock as it
arrives (before parsing), so the latency it reports is the server's and the network's, not the
client's. No extension is offered (so frames come uncompressed) and nothing is sent but pongs.

Latency of a delivery = arrival time − the event's `at`, the transition's `created_at`. PostgreSQL
here keeps no commit times, so `at` stands for the commit: it is stamped when the move is made, just
before its transaction commits for a move of its own (an API create, a completion); for moves made
together in one transaction (a backlog drain admits up to 50 contacts per transaction, a routing pass
hands out up to 500) it is stamped at that contact's move, so the rest of the batch's work counts in
its latency too. A latency therefore reads high by at most its transaction's remaining work; `by_rule` shows
which moves are slow. The server sends frames (contacts.live.hub): `{"type": "frame", "seq": n,
"messages": [...]}`, or an array of them in one message to a client that fell behind; events are
counted one by one. A client that sees a frame number skipped or a resync notice does what a page
does: when the run ends it reads the events endpoint from before the first event it missed, so
`missing_after_resync` counts what a page would never show, `missing` what never came on the socket.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import os
import struct
import time
import urllib.request
from array import array
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from .stats import ms, percentile, share

CONNECT_AT_ONCE = 20
HANDSHAKE_TIMEOUT = 20.0


@dataclass(frozen=True)
class Parsed:
    events: list[tuple[int, float]]  # (id, its `at` as a timestamp)
    heartbeat: bool
    seqs: list[int]  # the frame numbers, in order
    resync: bool  # a resync notice came


class _Parsed:
    """What one message's payload says, parsed once however many clients get the same bytes."""

    cache: dict[bytes, Parsed] = {}

    @classmethod
    def of(cls, payload: bytes) -> Parsed:
        found = cls.cache.get(payload)
        if found is None:
            if len(cls.cache) > 20000:
                cls.cache.clear()
            found = cls.cache[payload] = cls._parse(payload)
        return found

    @staticmethod
    def _parse(payload: bytes) -> Parsed:
        try:
            data = json.loads(payload)
        except ValueError:
            return Parsed([], False, [], False)
        stamped, heartbeat, seqs, resync = [], False, [], False
        for frame in data if isinstance(data, list) else [data]:
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind == "resync":
                resync = True
                continue
            if kind != "frame":
                continue
            seqs.append(frame.get("seq"))
            for message in frame.get("messages") or []:
                if message.get("type") == "heartbeat":
                    heartbeat = True
                elif message.get("type") == "resync":
                    resync = True
                elif message.get("type") == "event":
                    event = message.get("event") or {}
                    try:
                        stamped.append((int(event["id"]), datetime.fromisoformat(event["at"]).timestamp()))
                    except (KeyError, TypeError, ValueError):
                        continue
        return Parsed(stamped, heartbeat, seqs, resync)


class Client(asyncio.Protocol):
    """One dashboard socket: handshake, unmasked server frames in, pongs and a close out."""

    def __init__(self, fleet: _FleetState, request: bytes) -> None:
        self.fleet = fleet
        self.request = request
        self.handshake: asyncio.Future = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.fragments = bytearray()
        self.upgraded = False
        self.closed = False
        self.close_code: int | None = None
        self.transport: asyncio.Transport | None = None
        self.ids = array("q")
        self.latencies = array("d")
        self.max_id = 0
        self.heartbeats: list[float] = []
        self.next_seq: int | None = None
        self.told_to_resync = 0  # resync notices and skipped frame numbers
        self.recovered: set[int] = set()  # ids read from the events endpoint after a resync

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status_line = bytes(self.buffer[: self.buffer.find(b"\r\n")])
            del self.buffer[: end + 4]
            self.upgraded = b" 101 " in status_line + b" "
            if not self.handshake.done():
                self.handshake.set_result(self.upgraded)
            if not self.upgraded:
                self.transport.close()
                return
        self._frames(now)

    def _frames(self, now: float) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            length, offset = second & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, offset = struct.unpack_from("!H", buffer, 2)[0], 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, offset = struct.unpack_from("!Q", buffer, 2)[0], 10
            if second & 0x80:  # servers never mask, but a masked frame is still readable
                offset += 4
            if len(buffer) < offset + length:
                return
            payload = bytes(buffer[offset : offset + length])
            if second & 0x80:
                mask = buffer[offset - 4 : offset]
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            del buffer[: offset + length]
            self._frame(first & 0x80, first & 0x0F, payload, now)

    def _frame(self, fin: int, opcode: int, payload: bytes, now: float) -> None:
        if opcode in (0x0, 0x1, 0x2):
            self.fragments += payload
            if fin:
                message, self.fragments = bytes(self.fragments), bytearray()
                self._message(message, now)
        elif opcode == 0x8:
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self._send(0x8, payload[:2])
            self.transport.close()
        elif opcode == 0x9:
            self._send(0xA, payload)

    def _message(self, message: bytes, now: float) -> None:
        parsed = _Parsed.of(message)
        if parsed.heartbeat:
            self.heartbeats.append(now)
        self.told_to_resync += parsed.resync
        for seq in parsed.seqs:
            if self.next_seq is not None and seq != self.next_seq:
                self.told_to_resync += 1
            self.next_seq = seq + 1
        for event_id, at in parsed.events:
            self.ids.append(event_id)
            self.latencies.append(now - at)
            if event_id > self.max_id:
                self.max_id = event_id
            self.fleet.last_event_at = now

    def _send(self, opcode: int, payload: bytes) -> None:
        """A client frame (always masked, as RFC 6455 requires of clients)."""
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def connection_lost(self, exc) -> None:
        self.closed = True
        if not self.handshake.done():
            self.handshake.set_result(False)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self._send(0x8, struct.pack("!H", 1000))
            self.transport.close()


class _FleetState:
    last_event_at = 0.0


def handshake_request(ws_url: str, origin: str, cookie: str) -> bytes:
    parts = urlsplit(ws_url)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {parts.path} HTTP/1.1", f"Host: {parts.netloc}", "Upgrade: websocket", "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", f"Origin: {origin}", f"Cookie: {cookie}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _connect(state: _FleetState, ws_url: str, origin: str, cookie: str) -> Client:
    parts = urlsplit(ws_url)
    loop = asyncio.get_running_loop()
    client = Client(state, handshake_request(ws_url, origin, cookie))
    try:
        await asyncio.wait_for(loop.create_connection(lambda: client, parts.hostname, parts.port), HANDSHAKE_TIMEOUT)
        await asyncio.wait_for(client.handshake, HANDSHAKE_TIMEOUT)
    except (TimeoutError, OSError):
        client.closed = True
    return client


async def _serve(pipe, ws_url: str, origin: str, cookie: str, count: int) -> None:
    loop = asyncio.get_running_loop()
    state = _FleetState()
    clients: list[Client] = []
    for start in range(0, count, CONNECT_AT_ONCE):
        batch = range(start, min(count, start + CONNECT_AT_ONCE))
        clients += await asyncio.gather(*(_connect(state, ws_url, origin, cookie) for _ in batch))
    await asyncio.sleep(0.5)  # a refused socket is accepted, then closed (4401/4403): let those closes arrive
    refused = [c.close_code for c in clients if c.closed or not c.upgraded]
    pipe.send(("ready", {"connected": len(clients) - len(refused), "refused": len(refused),
                         "close_codes": sorted({code for code in refused if code})}))
    _, expected, last_id, quiet, limit = await loop.run_in_executor(None, pipe.recv)
    await _drain(state, clients, last_id, quiet, limit)
    await loop.run_in_executor(None, _resync, clients, set(expected), ws_url, cookie)
    summary = summarize([c for c in clients if c.upgraded], expected)
    for client in clients:
        client.close()
    summary["client_cpu_seconds"] = round(sum(os.times()[:2]), 2)
    pipe.send(("done", summary))


async def _drain(state: _FleetState, clients: list[Client], last_id: int, quiet: float, limit: float) -> None:
    """Wait until every open client has the last event (+0.3 s), nothing came for `quiet` s, or `limit` s."""
    started = time.time()
    while time.time() - started < limit:
        idle = time.time() - state.last_event_at
        if all(c.max_id >= last_id for c in clients if not c.closed and c.upgraded) and idle > 0.3:
            return
        if idle > quiet:
            return
        await asyncio.sleep(0.1)


def _resync(clients: list[Client], wanted: set[int], ws_url: str, cookie: str) -> None:
    """What a page does when told to resync: read the events endpoint from before the first event it lacks."""
    base = ws_url.replace("ws://", "http://", 1).rsplit("/ws/", 1)[0]
    for client in clients:
        missing = wanted - set(client.ids)
        if not client.told_to_resync or not missing:
            continue
        url = f"{base}/events?{urlencode({'after': min(missing) - 1, 'limit': 500})}"
        for _ in range(1000):
            request = urllib.request.Request(url, headers={"Cookie": cookie, "Accept": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    body = json.load(answer)
            except (OSError, ValueError):
                break
            client.recovered.update(event["id"] for event in body.get("events", []))
            if not body.get("next") or not (missing - client.recovered):
                break
            url = body["next"] if body["next"].startswith("http") else base + body["next"]


def summarize(clients: list[Client], expected: dict[int, str]) -> dict:
    """The deliveries of the `expected` events (id → rule): latencies, overall and by rule; missing shares.

    The slowest dashboard is the one that missed the most events (then the one with the highest p99).
    """
    wanted = set(expected)
    latencies: list[float] = []
    by_rule: dict[str, list[float]] = {}
    missing_shares, client_p99s, after_resync = [], [], []
    for client in clients:
        own = []
        for event_id, latency in zip(client.ids, client.latencies, strict=True):
            if event_id in wanted:
                own.append(latency)
                by_rule.setdefault(expected[event_id], []).append(latency)
        latencies += own
        missing_shares.append(share(len(wanted - set(client.ids)), len(wanted)))
        after_resync.append(share(len(wanted - set(client.ids) - client.recovered), len(wanted)))
        client_p99s.append(percentile(own, 99))
    worst = max(range(len(clients)), key=lambda i: (missing_shares[i] or 0, client_p99s[i] or 0), default=None)
    gaps = [b - a for c in clients for a, b in zip(c.heartbeats, c.heartbeats[1:], strict=False)]
    return {
        "dashboards": len(clients),
        "expected_events": len(wanted),
        "deliveries": len(latencies),
        "min_ms": ms(min(latencies, default=None)),
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
        "max_ms": ms(max(latencies, default=None)),
        "slowest_missing_share": None if worst is None else missing_shares[worst],
        "slowest_p99_ms": None if worst is None else ms(client_p99s[worst]),
        "mean_missing_share": round(sum(s or 0 for s in missing_shares) / len(clients), 3) if clients else None,
        "missing_after_resync_max_share": max((s or 0 for s in after_resync), default=None),
        "told_to_resync": sum(c.told_to_resync > 0 for c in clients),
        "closed_by_server": sum(c.closed and c.close_code is not None for c in clients),
        "heartbeat_max_gap_s": round(max(gaps), 2) if gaps else None,
        "by_rule": {rule: {"deliveries": len(values), "p50_ms": ms(percentile(values, 50)),
                           "p99_ms": ms(percentile(values, 99))} for rule, values in sorted(by_rule.items())},
    }


def _child(pipe, ws_url: str, origin: str, cookie: str, count: int) -> None:
    asyncio.run(_serve(pipe, ws_url, origin, cookie, count))


class Fleet:
    """`count` dashboards in a child process: `start()` connects them, `finish()` gives the figures."""

    def __init__(self, base_url: str, session_key: str, count: int) -> None:
        self.base_url = base_url
        self.ws_url = base_url.replace("http://", "ws://", 1) + "/ws/dashboard"
        self.cookie = f"sessionid={session_key}"
        self.count = count
        self.pipe, child_pipe = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_child, args=(child_pipe, self.ws_url, base_url, self.cookie, count), daemon=True
        )
        self.connected: dict = {}

    async def start(self) -> dict:
        self.process.start()
        _, self.connected = await asyncio.to_thread(self._receive, HANDSHAKE_TIMEOUT * (1 + self.count / 20))
        return self.connected

    async def finish(self, expected: dict[int, str], last_id: int, *, quiet: float = 3.0, limit: float = 60.0) -> dict:
        """Wait for the last frames, then the figures of the deliveries of `expected` (event id → its rule)."""
        self.pipe.send(("finish", expected, last_id, quiet, limit))
        _, summary = await asyncio.to_thread(self._receive, limit + 120)
        await asyncio.to_thread(self.process.join, 10)
        return {**summary, **{f"connect_{k}": v for k, v in self.connected.items()}}

    def _receive(self, timeout: float):
        if not self.pipe.poll(timeout):
            self.stop()
            raise RuntimeError("the dashboards' process did not answer")
        return self.pipe.recv()

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
