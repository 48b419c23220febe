"""Reading the dashboard socket as a page does: frames unpacked into their messages, in order.

A hub with sockets pushes snapshots every LIVE_SNAPSHOT_SECONDS (contacts.dashboard.snapshots) whatever
a test does; `receive_message` passes them over unless asked for them.
"""

from __future__ import annotations

import asyncio

from channels.testing import WebsocketCommunicator

from contacts.live.hub import unpack

SNAPSHOTS = {"overview.snapshot", "alerts.snapshot", "alerts.groups"}


async def receive_message(communicator: WebsocketCommunicator, timeout: float = 5, *, snapshots: bool = False) -> dict:
    """The next message the socket carries (a frame may hold several: the rest wait for the next call)."""
    pending: list[dict] = communicator.__dict__.setdefault("pending_messages", [])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        while not pending:
            pending += unpack(await communicator.receive_json_from(timeout=max(0.01, deadline - loop.time())))
        message = pending.pop(0)
        if snapshots or message["type"] not in SNAPSHOTS:
            return message


async def receive_type(communicator: WebsocketCommunicator, type_: str, timeout: float = 5) -> dict:
    """The next message of `type_` (the set-up's events, or a snapshot, may come first)."""
    while True:
        message = await receive_message(communicator, timeout, snapshots=True)
        if message["type"] == type_:
            return message


async def nothing_but_snapshots(communicator: WebsocketCommunicator, timeout: float = 1) -> bool:
    """True if the socket carries nothing but snapshots for `timeout` seconds (a timed-out read would end
    the application, so this waits as `receive_nothing` does and reads only what is there)."""
    pending: list[dict] = communicator.__dict__.setdefault("pending_messages", [])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if any(message["type"] not in SNAPSHOTS for message in pending):
            return False
        pending.clear()
        left = deadline - loop.time()
        if left <= 0 or await communicator.receive_nothing(timeout=left):
            return True
        pending += unpack(await communicator.receive_json_from(timeout=1))
