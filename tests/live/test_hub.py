"""contacts.live.hub: one group member per web process, frames encoded once, gaps and group expiry noticed.

Through the real ASGI stack and the Redis channel layer, with sockets opened by Channels' communicator
(all in this process, so they share one hub, as a web process's sockets do).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from ccpdash.asgi import application
from contacts.core import permissions as roles
from contacts.core.health import redis_client
from contacts.live import broadcast
from contacts.live import hub as hubs
from contacts.live.sender import FRAME_TYPE
from tests.live.support import receive_message, receive_type
from tests.live.test_consumers import ORIGIN, create_task, make_user, session_cookie


async def open_sockets(cookie: str, count: int) -> list[WebsocketCommunicator]:
    sockets = []
    headers = [(b"host", b"testserver"), (b"origin", ORIGIN.encode()), (b"cookie", f"sessionid={cookie}".encode())]
    for _ in range(count):
        communicator = WebsocketCommunicator(application, "/ws/dashboard", headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        sockets.append(communicator)
    return sockets


@pytest.fixture
def supervisor_cookie(django_user_model) -> str:
    return session_cookie(make_user(django_user_model, "sup", roles.SUPERVISORS))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
class HubTests:
    @pytest.mark.asyncio
    async def test_a_frame_is_encoded_once_whatever_the_number_of_sockets(self, supervisor_cookie, monkeypatch):
        encoded: list[str] = []
        real_encode = hubs.encode
        monkeypatch.setattr(hubs, "encode", lambda frame: encoded.append(real_encode(frame)) or encoded[-1])
        sockets = await open_sockets(supervisor_cookie, 5)
        hub = await hubs.hub()
        assert len(hub.subscribers) == 5
        frames_before = hub.frames
        rows = [await sync_to_async(create_task)(f"c{n}") for n in range(3)]
        for socket in sockets:
            ids = [(await receive_type(socket, "event"))["event"]["id"] for _ in rows]
            assert ids == [row.pk for row in rows]
        # Each frame was encoded once and the very same text went to all five sockets.
        assert len(encoded) == hub.frames - frames_before >= 1
        for socket in sockets:
            await socket.disconnect()
        assert not hub.subscribers

    @pytest.mark.asyncio
    async def test_the_sockets_are_not_group_members_the_hub_is(self, supervisor_cookie):
        hub = await hubs.hub()
        redis = redis_client(settings.REDIS_URL)
        group_channel = hub.layer._get_layer()._get_group_channel_name(broadcast.DASHBOARD_GROUP)

        def subscribers() -> int:
            return dict(redis.pubsub_numsub(group_channel))[group_channel.encode()]

        before = await sync_to_async(subscribers)()
        assert before >= 1  # this loop's hub (hubs of earlier tests' closed loops may linger a moment)
        sockets = await open_sockets(supervisor_cookie, 3)
        assert await sync_to_async(subscribers)() == before
        assert len(hub.subscribers) == 3
        for socket in sockets:
            await socket.disconnect()

    @pytest.mark.asyncio
    async def test_a_producer_whose_frames_jump_makes_every_page_resync(self, supervisor_cookie):
        (socket,) = await open_sockets(supervisor_cookie, 1)
        hub = await hubs.hub()
        event = {"type": "contact.event", "event": {"id": 1}}
        for seq in (1, 2, 4):  # frame 3 was lost on the way (a full channel, an expired message)
            await hub.layer.group_send(broadcast.DASHBOARD_GROUP,
                                       {"type": FRAME_TYPE, "producer": "test:1:x", "seq": seq, "messages": [event]})
        got = [await receive_message(socket) for _ in range(4)]
        assert [m["type"] for m in got] == ["event", "event", "event", "resync"]
        assert got[-1]["why"] == "gap"
        await socket.disconnect()

    @pytest.mark.asyncio
    async def test_frames_carry_a_sequence_number_and_the_newest_event_id(self, supervisor_cookie):
        (socket,) = await open_sockets(supervisor_cookie, 1)
        first = await sync_to_async(create_task)("first")
        frame = await socket.receive_json_from(timeout=5)
        second = await sync_to_async(create_task)("second")
        following = await socket.receive_json_from(timeout=5)
        assert frame["type"] == following["type"] == "frame"
        assert following["seq"] == frame["seq"] + 1
        assert (frame["last_id"], following["last_id"]) == (first.pk, second.pk)
        await socket.disconnect()

    @pytest.mark.asyncio
    async def test_the_hub_stays_in_the_group_past_its_expiry(self):
        # A layer whose members expire after 2 s: without renewing, the hub would stop getting frames.
        config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
        layer = RedisChannelLayer(hosts=config["hosts"], prefix=config["prefix"] + ":expiry-test", group_expiry=2)
        hub = hubs.Hub(group="expiry-test")
        hub.layer = layer
        await hub.start()
        try:
            await asyncio.sleep(4.5)
            await layer.group_send("expiry-test", {"type": FRAME_TYPE, "producer": "p", "seq": 1,
                                                   "messages": [{"type": "contact.heartbeat", "last_id": 9}]})
            for _ in range(50):
                if hub.messages:
                    break
                await asyncio.sleep(0.1)
            assert hub.messages == 1
        finally:
            for task in hub.tasks:
                task.cancel()
            await layer.group_discard("expiry-test", hub.channel)
            await layer.flush()


class FrameTests:
    def test_take_merges_what_waits_into_one_list_of_browser_messages(self):
        hub = hubs.Hub.__new__(hubs.Hub)
        hub.inbox = deque([
            {"type": FRAME_TYPE, "producer": "a", "seq": 1, "messages": [
                {"type": "contact.event", "event": {"id": 5}}, {"type": "job.progress", "job": {"id": 2}}]},
            {"type": "contact.heartbeat", "last_id": 5, "at": "t"},  # sent on its own, outside the sender
            {"type": FRAME_TYPE, "producer": "a", "seq": 2, "messages": [{"type": "unknown.kind"}]},
        ])
        hub.producers, hub.gaps = OrderedDict(), 0
        assert hub._take() == [
            {"type": "event", "event": {"id": 5}}, {"type": "job", "job": {"id": 2}},
            {"type": "heartbeat", "last_id": 5, "at": "t"},
        ]
        assert hub.gaps == 0

    def test_unpack_reads_a_frame_an_array_of_frames_and_a_notice(self):
        frame = {"type": "frame", "seq": 1, "last_id": None, "messages": [{"type": "heartbeat", "last_id": 1}]}
        notice = {"type": "resync", "why": "behind"}
        assert hubs.unpack(frame) == [{"type": "heartbeat", "last_id": 1}]
        assert hubs.unpack([notice, frame]) == [notice, {"type": "heartbeat", "last_id": 1}]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
class SnapshotIntervalTests:
    @pytest.mark.asyncio
    async def test_snapshots_are_computed_once_per_interval_whatever_the_sockets_and_hubs(
        self, supervisor_cookie, settings, monkeypatch
    ):
        settings.LIVE_SNAPSHOT_SECONDS = 0.25
        runs: list[int] = []
        monkeypatch.setattr(hubs, "SNAPSHOT_PRODUCERS", [lambda: runs.append(1)])
        sockets = await open_sockets(supervisor_cookie, 6)
        # A second hub with a socket of its own stands for a second web process: they share the claim.
        other = hubs.Hub()
        other.add(FakeSocket())
        await other.start()
        try:
            await asyncio.sleep(2.1)
        finally:
            for task in other.tasks:
                task.cancel()
            await other.layer.group_discard(other.group, other.channel)
        # About 8 intervals in 2.1 s: once each at most (a claim expires just before its interval ends),
        # never once per socket (6) or per hub (2).
        assert 4 <= len(runs) <= 9
        for socket in sockets:
            await socket.disconnect()


class FakeSocket:
    def offer(self, text: str) -> None:
        pass

    def heartbeat_seen(self) -> None:
        pass
