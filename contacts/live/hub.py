"""The web process's one listener to the broadcast group: it fans every frame out to the process's own sockets.

Before, every dashboard socket was a member of the channel-layer group, so a broadcast cost one Redis
message per open dashboard, and each socket's consumer decoded it and encoded it to JSON again: the
web process's cost per event grew with its audience, and at 50 dashboards events queued for seconds
(README "Live updates"). Now one `Hub` per event loop (a web process has one) is the group's only
member from that process. It receives the producers' frames (contacts.live.sender), merges what
arrived while it was busy into one frame for the browser, encodes that frame once, and hands the same
text to every socket's outbox. The cost per event is one Redis message and one encoding per web
process, whatever the number of dashboards; what grows with them is the socket writes alone.

A browser frame is `{"type": "frame", "seq": n, "last_id": newest event id in it or null,
"messages": [...]}` with `seq` counting from 1 per hub; its messages are in the page's form
(`BROWSER_FORM`). Nothing is lost silently (DESIGN invariant 3: messages are hints, the database is
the truth, but the page must know when to read it):
- a producer whose frame numbers jump lost frames on the way (a failed send, a hub briefly cut off
  from Redis, which keeps nothing for it meanwhile: the layer is pub/sub, ccpdash/settings.py): the
  hub puts `{"type": "resync", "why": "gap"}` in its next frame;
- a socket whose outbox holds `LIVE_SOCKET_MAX_FRAMES` frames has stopped reading (the server's send
  waits once the socket's buffers are full): its outbox is emptied and gets `{"type": "resync",
  "why": "behind"}` in their place, so it catches up from the events endpoint when it reads again
  and its seq shows the frames it never got;
- a channel layer whose group members expire (the list-based core layer's `group_expiry`) never
  forgets a live hub: the hub adds itself again every quarter of that; with pub/sub, membership is
  the subscription and ends with the process.

A hub is ready once a message it published to the group has come back to it: from then on no frame
sent to the group can pass it by, so a socket that joins then misses nothing after its first read.

Snapshots (the overview's figures, the alert news: contacts.dashboard.snapshots) are computed by the
hubs too, once per LIVE_SNAPSHOT_SECONDS across all web processes: each interval, a hub with sockets
tries to claim the interval in Redis (SET NX with an expiry a little under the interval), and only the
one that gets it runs the registered snapshot producers, in a thread, and broadcasts what they make.
They live here rather than on Celery beat because they must be on time, and the periodic worker may be
busy with sweeps for seconds under load.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections

from contacts.core.health import redis_client
from contacts.metrics import instruments

from .broadcast import DASHBOARD_GROUP
from .sender import FRAME_TYPE

log = logging.getLogger(__name__)

# Producers whose last frame number is remembered; older ones are forgotten (a worker child's name
# changes with every restart), and one coming back after that is taken as new.
PRODUCERS_REMEMBERED = 10_000
# Messages in one browser frame, at most; more waiting go in the next frame.
BROWSER_FRAME_MAX = 2000
REPORT_SECONDS = 60
# A user's access changed (contacts.live.access): the hub has their sockets check it; no page sees it.
ACCESS_CHANGED = "access.changed"
PROBE_TYPE = "hub.probe"  # a hub's own message to itself through the group (start-up only)
PROBE_TRIES, PROBE_SECONDS = 10, 0.5

# Callables that compute and broadcast one snapshot each (registered at start-up by contacts.apps).
SNAPSHOT_PRODUCERS: list[Callable[[], object]] = []


def register_snapshot_producer(producer: Callable[[], object]) -> None:
    if producer not in SNAPSHOT_PRODUCERS:
        SNAPSHOT_PRODUCERS.append(producer)


def _event(message: dict) -> dict:
    return {"type": "event", "event": message["event"]}


def _heartbeat(message: dict) -> dict:
    return {"type": "heartbeat", "last_id": message["last_id"], "at": message.get("at")}


def _job(message: dict) -> dict:
    return {"type": "job", "job": message["job"]}


def _as_sent(message: dict) -> dict:
    return message


# Channel-layer message type -> the page's form of it (contacts.live.broadcast documents the messages).
BROWSER_FORM = {
    "contact.event": _event,
    "contact.heartbeat": _heartbeat,
    "job.progress": _job,
    "alert.ack": _as_sent,
    "alert.queue": _as_sent,
    "overview.snapshot": _as_sent,
    "alerts.snapshot": _as_sent,
    "alerts.groups": _as_sent,
}

# What a socket that shows aggregates only (the wall board's, `aggregates_only`) is sent: the pushed
# figures, the alert groups and the heartbeats, never a contact's event.
AGGREGATE_TYPES = frozenset({"overview.snapshot", "alerts.groups", "heartbeat"})


class Subscriber(Protocol):
    """What the hub needs of a socket (contacts.live.consumers.DashboardConsumer)."""

    def offer(self, text: str) -> None: ...

    def heartbeat_seen(self) -> None: ...

    def check_access(self) -> None: ...

    @property
    def user_id(self) -> int | None: ...


def encode(frame: dict) -> str:
    """A frame as the text sent to every socket; the one place a frame is encoded (tests count the calls)."""
    return json.dumps(frame, separators=(",", ":"))


class Hub:
    """One member of the broadcast group per event loop; fans frames out to the sockets that joined it."""

    def __init__(self, group: str = DASHBOARD_GROUP) -> None:
        self.group = group
        self.layer = get_channel_layer()
        self.channel = ""
        self.subscribers: set[Subscriber] = set()
        self.inbox: deque[dict] = deque()
        self.arrived = asyncio.Event()
        self.producers: OrderedDict[str, int] = OrderedDict()
        self.seq = 0
        self.frames = 0  # browser frames built (each encoded once)
        self.messages = 0
        self.gaps = 0
        self.overflows = 0  # sockets told to resync because they stopped reading (DashboardConsumer.offer)
        self.deepest_inbox = 0
        self.snapshots = 0  # snapshot intervals this hub claimed and computed
        self.tasks: list[asyncio.Task] = []
        self.ready = asyncio.Event()

    async def start(self) -> None:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self.probe = f"{self.channel}:ready"
        self.probed = asyncio.Event()
        self.tasks = [
            asyncio.create_task(self._receive(), name="ccpdash-hub-receive"),
            asyncio.create_task(self._deliver(), name="ccpdash-hub-deliver"),
            asyncio.create_task(self._stay_in_group(), name="ccpdash-hub-membership"),
            asyncio.create_task(self._report(), name="ccpdash-hub-report"),
            asyncio.create_task(self._snapshots(), name="ccpdash-hub-snapshots"),
        ]
        # A subscription takes effect when Redis has read it: until our own message comes back, a frame
        # could pass us by.
        for _ in range(PROBE_TRIES):
            await self.layer.group_send(self.group, {"type": PROBE_TYPE, "hub": self.probe})
            try:
                await asyncio.wait_for(self.probed.wait(), PROBE_SECONDS)
                break
            except TimeoutError:
                continue
        self.ready.set()
        log.info("live hub %s joined group %s", self.channel, self.group)

    def add(self, subscriber: Subscriber) -> None:
        if subscriber not in self.subscribers:
            instruments.OPEN_SOCKETS.inc()
        self.subscribers.add(subscriber)

    def discard(self, subscriber: Subscriber) -> None:
        # A socket closed for lost access is discarded again by its disconnect: count it once.
        if subscriber in self.subscribers:
            instruments.OPEN_SOCKETS.dec()
        self.subscribers.discard(subscriber)

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("live hub: receiving from the channel layer failed; retrying", exc_info=True)
                await asyncio.sleep(1)
                # Frames sent meanwhile may be gone: every page re-reads what it missed.
                self.inbox.append({"type": FRAME_TYPE, "messages": [], "lost": True})
                self.arrived.set()
                continue
            if message.get("type") == PROBE_TYPE:
                if message.get("hub") == self.probe:
                    self.probed.set()
                continue
            self.inbox.append(message)
            self.deepest_inbox = max(self.deepest_inbox, len(self.inbox))
            self.arrived.set()

    async def _deliver(self) -> None:
        """One browser frame per LIVE_FRAME_SECONDS at most; the first after a quiet spell goes at once."""
        loop = asyncio.get_running_loop()
        last = -1e9
        while True:
            await self.arrived.wait()
            wait = last + settings.LIVE_FRAME_SECONDS - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)  # what arrives meanwhile joins this frame
            self.arrived.clear()
            while self.inbox:
                self.fan_out(self._take())
            last = loop.time()

    def _take(self) -> list[dict]:
        """The browser messages of what waits in the inbox, up to BROWSER_FRAME_MAX, in arrival order."""
        messages: list[dict] = []
        gap = False
        while self.inbox and len(messages) < BROWSER_FRAME_MAX:
            received = self.inbox.popleft()
            if received.get("type") == FRAME_TYPE:
                gap |= self._numbered(received)
                contents = received.get("messages") or []
            else:  # a message group_send'ed on its own, outside the sender
                contents = [received]
            for message in contents:
                if message.get("type") == ACCESS_CHANGED:  # for the sockets, not the pages
                    self.access_changed(message.get("users"))
                    continue
                form = BROWSER_FORM.get(message.get("type"))
                if form is not None:
                    messages.append(form(message))
        if gap:
            self.gaps += 1
            messages.append({"type": "resync", "why": "gap"})
        return messages

    def _numbered(self, frame: dict) -> bool:
        """Record the producer's frame number; True if frames of it were lost before this one."""
        if frame.get("lost"):
            return True
        producer, seq = frame.get("producer"), frame.get("seq")
        if producer is None or seq is None:
            return False
        last = self.producers.pop(producer, None)
        self.producers[producer] = seq
        if len(self.producers) > PRODUCERS_REMEMBERED:
            self.producers.popitem(last=False)
        # A producer seen for the first time may have sent frames before this hub joined: those came
        # before any of this hub's sockets opened, and each page read them when it connected.
        return last is not None and seq != last + 1

    def access_changed(self, users: list[int] | None) -> None:
        """The access of `users` (None: of anyone) changed: their sockets check theirs now (contacts.live.access)."""
        wanted = None if users is None else set(users)
        for subscriber in list(self.subscribers):
            if wanted is None or subscriber.user_id in wanted:
                subscriber.check_access()

    def fan_out(self, messages: list[dict]) -> None:
        """Build one browser frame of `messages`, encode it once, and offer the text to every socket."""
        if not messages:
            return
        self.seq += 1
        self.frames += 1
        self.messages += len(messages)
        event_ids = [m["event"]["id"] for m in messages if m["type"] == "event"]
        frame = {"type": "frame", "seq": self.seq, "last_id": max(event_ids, default=None), "messages": messages}
        texts: dict[bool, str | None] = {False: encode(frame)}
        heartbeat = any(m["type"] == "heartbeat" for m in messages)
        for subscriber in list(self.subscribers):
            if heartbeat:  # first: a socket whose session ended must not get this frame
                subscriber.heartbeat_seen()
            aggregates_only = getattr(subscriber, "aggregates_only", False)
            if aggregates_only not in texts:  # the wall sockets' frame, encoded once for all of them
                kept = [m for m in messages if m["type"] in AGGREGATE_TYPES]
                # Numbered like the full frame, so a wall page sees the hub's sequence (and its gaps) too.
                texts[True] = encode({**frame, "last_id": None, "messages": kept}) if kept else None
            if texts[aggregates_only] is not None:
                subscriber.offer(texts[aggregates_only])

    async def _stay_in_group(self) -> None:
        period = max(1.0, getattr(self.layer, "group_expiry", 86400) / 4)
        while True:
            await asyncio.sleep(period)
            try:
                await self.layer.group_add(self.group, self.channel)
            except Exception:
                log.warning("live hub: renewing the group membership failed; retrying", exc_info=True)

    async def _snapshots(self) -> None:
        interval = settings.LIVE_SNAPSHOT_SECONDS
        while True:
            await asyncio.sleep(interval)
            if not self.subscribers or not SNAPSHOT_PRODUCERS:
                continue  # nobody watches here; a hub with sockets claims the interval
            try:
                if await sync_to_async(claim_snapshot_interval, thread_sensitive=False)(interval):
                    await sync_to_async(run_snapshot_producers, thread_sensitive=False)()
                    self.snapshots += 1
            except Exception:
                log.warning("live hub: a snapshot failed; the pages fetch the figures themselves", exc_info=True)

    def stats(self) -> dict:
        return {"sockets": len(self.subscribers), "frames": self.frames, "messages": self.messages,
                "gaps": self.gaps, "overflows": self.overflows, "deepest_inbox": self.deepest_inbox}

    async def _report(self) -> None:
        """A log line a minute while frames go out: what an operator sizes `capacity` and the limits by."""
        reported = self.stats()
        while True:
            await asyncio.sleep(REPORT_SECONDS)
            now = self.stats()
            if now["frames"] == reported["frames"]:
                continue
            log.info("live hub: %d sockets; in the last %d s %d frames of %d messages, %d producer gaps, "
                     "%d sockets behind; deepest inbox so far %d", now["sockets"], REPORT_SECONDS,
                     now["frames"] - reported["frames"], now["messages"] - reported["messages"],
                     now["gaps"] - reported["gaps"], now["overflows"] - reported["overflows"], now["deepest_inbox"])
            reported = now


def snapshot_key() -> str:
    return f"{settings.REDIS_PREFIX}:live:snapshot-claim"


def claim_snapshot_interval(interval: float) -> bool:
    """True for the one caller (across processes) that gets this interval; its claim expires before the next."""
    return bool(redis_client(settings.REDIS_URL).set(snapshot_key(), "1", nx=True, px=max(1, int(interval * 900))))


def run_snapshot_producers() -> None:
    close_old_connections()
    try:
        for producer in SNAPSHOT_PRODUCERS:
            producer()
    finally:
        close_old_connections()


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()
_starting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


async def hub() -> Hub:
    """The running event loop's hub, in the group before this returns (started on first use)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is not None and found.ready.is_set():
        return found
    lock = _starting.setdefault(loop, asyncio.Lock())
    async with lock:
        found = _hubs.get(loop)
        if found is None:
            found = Hub()
            await found.start()
            _hubs[loop] = found
    return found


def unpack(data: dict | list) -> list[dict]:
    """The messages of one decoded socket message, in order: the inverse of `fan_out` for Python clients
    (tests, the benchmarks). Resync notices sent on their own come back as messages too."""
    frames = data if isinstance(data, list) else [data]
    return [message for frame in frames
            for message in (frame.get("messages", []) if frame.get("type") == "frame" else [frame])]
