"""Reading the dashboard socket as a page does: frames unpacked into their messages, in order."""

from __future__ import annotations

from channels.testing import WebsocketCommunicator

from contacts.live.hub import unpack


async def receive_message(communicator: WebsocketCommunicator, timeout: float = 5) -> dict:
    """The next message the socket carries (a frame may hold several: the rest wait for the next call)."""
    pending: list[dict] = communicator.__dict__.setdefault("pending_messages", [])
    while not pending:
        pending += unpack(await communicator.receive_json_from(timeout=timeout))
    return pending.pop(0)


async def receive_type(communicator: WebsocketCommunicator, type_: str, timeout: float = 5) -> dict:
    """The next message of `type_` (the set-up's events, or a snapshot, may come first)."""
    while True:
        message = await receive_message(communicator, timeout)
        if message["type"] == type_:
            return message
