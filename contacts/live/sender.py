"""The one broadcast path of a process: a thread with a long-lived event loop that sends to the channel layer.

`broadcast.send()` used to call `async_to_sync(layer.group_send)` in the caller's thread. In a web
request that blocked the answer until the web process's event loop got round to the send (a third of
an API create's time under load, README "Benchmarks"); in a Celery worker every call built an event
loop, and with it a new channel-layer connection pool, and threw both away. Now each process has one
`Sender`: callers put messages on its queue and return at once, and its thread sends them one after
another, in the order they were put, over the connections of one event loop that lives as long as the
process.

The thread sends frames, not messages: each time round it takes every message already waiting (up
to `FRAME_MAX`), and sends one `live.frame` per group, `{"type": "live.frame", "producer": …, "seq": n,
"messages": [...]}`, numbered per (process, group) from 1. One message alone goes at once, so a quiet
system adds no wait; under load a frame holds what came while the previous one was sent, so Redis and
every web process's hub (contacts.live.hub) handle one message per frame, not one per event. A hub that
sees a producer's `seq` jump knows frames were lost (a full or expired channel) and has its pages resync.

Messages are hints (DESIGN invariant 3): a message that cannot be sent (Redis down, the queue full
because Redis hangs) is logged and dropped, never raised to the caller, whose move is already
committed; the heartbeat's newest id makes every page resync what it missed. A forked child (Celery's
prefork pool) never uses its parent's thread, which did not survive the fork: it starts its own on its
first message. At exit the thread gets a moment to send what is still queued.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import queue
import socket
import threading
import time
import uuid

from channels.layers import get_channel_layer
from django.conf import settings

from contacts.metrics import instruments

log = logging.getLogger(__name__)

# Messages waiting to be sent, at most: past this Redis is not keeping up at all, and what is dropped
# is resynced from the database by the pages.
MAX_WAITING = 10_000
EXIT_FLUSH_SECONDS = 2.0
# Messages in one frame, at most: a burst is sent as several frames of this size rather than one huge one.
FRAME_MAX = 500
FRAME_TYPE = "live.frame"
# A queued message: (group, message, due, put_at), times by time.monotonic().
Waiting = tuple[str, dict, float, float]


def producer_name() -> str:
    """This process, as frames name it: unique across hosts and restarts (pid numbers are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Sender:
    """A daemon thread sending queued (group, message) pairs to the channel layer, in order, on one loop."""

    def __init__(self, max_waiting: int = MAX_WAITING) -> None:
        self.pid = os.getpid()
        self.waiting: queue.Queue = queue.Queue(maxsize=max_waiting)
        self.dropped = 0
        self.producer = producer_name()
        self.sequences: dict[str, int] = {}  # group -> number of the last frame sent to it
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="ccpdash-broadcast", daemon=True)
        self.thread.start()

    def put(self, group: str, message: dict) -> bool:
        """Queue one message; False (logged) if the queue is full. Never blocks."""
        # The benchmark's probe delays every message from the moment it is put (tests/demo/test_benchmark.py).
        put_at = time.monotonic()
        due = put_at + settings.BROADCAST_DELAY_SECONDS
        try:
            self.waiting.put_nowait((group, message, due, put_at))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("broadcast queue full (%d waiting): %d messages dropped; dashboards will resync",
                            self.waiting.qsize(), self.dropped)
            return False
        return True

    def flush(self, timeout: float) -> bool:
        """Wait until every queued message was sent (or given up), at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.waiting.unfinished_tasks:
            if time.monotonic() > deadline or not self.thread.is_alive():
                return False
            time.sleep(0.005)
        return True

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        while True:
            batch = [self.waiting.get()]
            try:
                wait = batch[0][2] - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                batch += self._take_due(FRAME_MAX - 1)
                self.loop.run_until_complete(self._send_frames(batch))
            finally:
                for _ in batch:
                    self.waiting.task_done()

    def _take_due(self, limit: int) -> list[Waiting]:
        """What else is waiting and due now, without waiting for more."""
        taken: list[Waiting] = []
        now = time.monotonic()
        while len(taken) < limit:
            try:
                item = self.waiting.get_nowait()
            except queue.Empty:
                break
            taken.append(item)
            if item[2] > now:  # due later (the probe's delay): it goes with this frame, after a short wait
                time.sleep(item[2] - now)
                now = time.monotonic()
        return taken

    async def _send_frames(self, batch: list[Waiting]) -> None:
        by_group: dict[str, list[Waiting]] = {}
        for item in batch:
            by_group.setdefault(item[0], []).append(item)
        for group, items in by_group.items():
            seq = self.sequences[group] = self.sequences.get(group, 0) + 1
            messages = [message for _, message, _, _ in items]
            if await self._send(group, {"type": FRAME_TYPE, "producer": self.producer, "seq": seq,
                                        "messages": messages}):
                sent_at = time.monotonic()
                for _, message, _, put_at in items:
                    instruments.BROADCAST_SECONDS.labels(message.get("type", "")).observe(sent_at - put_at)

    @staticmethod
    async def _send(group: str, message: dict) -> bool:
        """True once the channel layer took the frame."""
        layer = get_channel_layer()
        if layer is None:
            return False
        try:
            await layer.group_send(group, message)
        except Exception:
            log.warning("broadcast to %s failed; dashboards will resync", group, exc_info=True)
            return False
        return True


_sender: Sender | None = None
_lock = threading.Lock()


def sender() -> Sender:
    """This process's Sender, started on first use (again in a forked child)."""
    global _sender
    current = _sender
    if current is not None and current.pid == os.getpid():
        return current
    with _lock:
        if _sender is None or _sender.pid != os.getpid():
            _sender = Sender()
        return _sender


def _flush_at_exit() -> None:
    if _sender is not None and _sender.pid == os.getpid():
        _sender.flush(EXIT_FLUSH_SECONDS)


atexit.register(_flush_at_exit)
