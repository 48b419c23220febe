"""contacts.live.sender: the one broadcast path of a process (a thread, one long-lived loop, in order, never blocking).

A fake channel layer records what it is asked to send and on which event loop; the last test sends
through the real Redis layer to a real group member.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from channels.layers import get_channel_layer

from contacts.live import broadcast, sender
from contacts.live.sender import Sender


class RecordingLayer:
    """group_send that records each message of a frame as (group, message, loop), and the frames themselves,
    and waits for `release` before it returns."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict, asyncio.AbstractEventLoop]] = []
        self.frames: list[tuple[str, dict]] = []
        self.release = threading.Event()
        self.release.set()

    async def group_send(self, group: str, message: dict) -> None:
        while not self.release.is_set():
            await asyncio.sleep(0.005)
        self.frames.append((group, message))
        for inner in message["messages"]:
            self.sent.append((group, inner, asyncio.get_running_loop()))


class FailingLayer:
    async def group_send(self, group: str, message: dict) -> None:
        raise ConnectionError("Redis is down")


@pytest.fixture
def layer(monkeypatch) -> RecordingLayer:
    fake = RecordingLayer()
    monkeypatch.setattr(sender, "get_channel_layer", lambda: fake)
    return fake


class SenderTests:
    def test_a_caller_never_waits_for_the_send(self, layer) -> None:
        layer.release.clear()  # the layer hangs, as a Redis that does not answer would
        one = Sender()
        for n in range(3):
            assert one.put("dashboard", {"n": n}) is True  # returns although nothing could be sent
        assert layer.sent == []
        layer.release.set()
        assert one.flush(10)
        assert [message["n"] for _, message, _ in layer.sent] == [0, 1, 2]

    def test_it_sends_in_the_order_put_over_one_long_lived_loop(self, layer) -> None:
        one = Sender()
        for n in range(200):
            one.put("dashboard", {"n": n})
        assert one.flush(10)
        assert [message["n"] for _, message, _ in layer.sent] == list(range(200))
        assert {id(loop) for _, _, loop in layer.sent} == {id(one.loop)}
        assert not one.loop.is_closed()

    def test_what_waits_goes_as_one_numbered_frame_per_group(self, layer) -> None:
        layer.release.clear()  # the first frame hangs in the layer while the rest queue up behind it
        one = Sender()
        one.put("dashboard", {"n": 0})
        while one.waiting.qsize():
            pass
        for n in range(1, 301):
            one.put("dashboard" if n % 3 else "other", {"n": n})
        layer.release.set()
        assert one.flush(10)
        dashboard = [frame for group, frame in layer.frames if group == "dashboard"]
        other = [frame for group, frame in layer.frames if group == "other"]
        # The first message alone, then everything that waited behind it: one frame per group.
        assert [len(frame["messages"]) for frame in dashboard] == [1, 200]
        assert [len(frame["messages"]) for frame in other] == [100]
        assert [frame["seq"] for frame in dashboard] == [1, 2] and [frame["seq"] for frame in other] == [1]
        assert {frame["producer"] for _, frame in layer.frames} == {one.producer}
        assert [m["n"] for m in dashboard[1]["messages"]] == [n for n in range(1, 301) if n % 3]

    def test_a_full_queue_drops_the_message_and_says_so_instead_of_blocking(self, layer) -> None:
        layer.release.clear()
        one = Sender(max_waiting=2)
        one.put("dashboard", {"n": 0})  # taken by the thread, which then hangs in the layer
        while one.waiting.qsize():
            pass
        time.sleep(0.05)
        results = [one.put("dashboard", {"n": n}) for n in range(1, 6)]
        assert results == [True, True, False, False, False] and one.dropped == 3
        layer.release.set()
        assert one.flush(10)

    def test_a_failed_send_is_logged_and_the_next_ones_still_go(self, monkeypatch, caplog) -> None:
        layers = iter([FailingLayer(), RecordingLayer()])
        current = next(layers)
        monkeypatch.setattr(sender, "get_channel_layer", lambda: current)
        one = Sender()
        one.put("dashboard", {"n": 0})
        assert one.flush(10)
        assert "broadcast to dashboard failed" in caplog.text
        current = next(layers)
        one.put("dashboard", {"n": 1})
        assert one.flush(10)
        assert [message["n"] for _, message, _ in current.sent] == [1]

    def test_the_process_has_one_sender_and_broadcast_uses_it(self, layer) -> None:
        assert sender.sender() is sender.sender()
        broadcast.send(broadcast.DASHBOARD_GROUP, {"type": "contact.heartbeat", "last_id": 7})
        assert sender.sender().flush(10)
        assert layer.sent[-1][:2] == ("dashboard", {"type": "contact.heartbeat", "last_id": 7})


class RedisSenderTests:
    def test_a_message_reaches_a_member_of_the_group_through_redis(self) -> None:
        real = get_channel_layer()

        async def receive_one() -> dict:
            channel = await real.new_channel()
            await real.group_add("sender-test", channel)
            try:
                broadcast.send("sender-test", {"type": "contact.event", "event": {"id": 1}})
                return await asyncio.wait_for(real.receive(channel), 10)
            finally:
                await real.group_discard("sender-test", channel)

        frame = asyncio.run(receive_one())
        assert (frame["type"], frame["seq"]) == ("live.frame", 1)
        assert frame["messages"] == [{"type": "contact.event", "event": {"id": 1}}]
