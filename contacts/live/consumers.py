"""The dashboard's WebSocket: authorizes, joins the broadcast group, forwards events and heartbeats.

Close codes the page acts on: 4401 signed out (no session, or it expired or was logged out while
the socket was open), 4403 signed in without `contacts.view_dashboard`. The socket is accepted
before it is closed with them, because a browser only sees a custom close code on an accepted
socket (a refused handshake reads as 1006).
"""

from __future__ import annotations

import time
from importlib import import_module

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import SESSION_KEY

from contacts.core.permissions import VIEW_DASHBOARD

from .broadcast import DASHBOARD_GROUP

SIGNED_OUT, FORBIDDEN = 4401, 4403
SESSION_RECHECK_SECONDS = 30


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    joined = False
    session_checked_at = 0.0

    async def connect(self) -> None:
        refusal = await self.refusal()
        if refusal:
            await self.accept()
            await self.close(code=refusal)
            return
        # Join before accepting: once the page sees the socket open, no broadcast can slip past it,
        # so the resync it starts then covers everything before.
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        self.joined = True
        self.session_checked_at = time.monotonic()
        await self.accept()

    async def refusal(self) -> int | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return SIGNED_OUT
        if not await database_sync_to_async(user.has_perm)(VIEW_DASHBOARD):
            return FORBIDDEN
        return None

    async def disconnect(self, code: int) -> None:
        if self.joined:
            await self.channel_layer.group_discard(DASHBOARD_GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        """The page sends nothing the server needs; the socket is one-way."""

    async def contact_event(self, message: dict) -> None:
        await self.send_json({"type": "event", "event": message["event"]})

    async def job_progress(self, message: dict) -> None:
        # A bulk job's progress (contacts.workflows.jobs.progress documents it); the job page follows it.
        await self.send_json({"type": "job", "job": message["job"]})

    async def alert_ack(self, message: dict) -> None:
        # Alert messages (contacts.alerts.discards documents them) go to the page as they were sent.
        await self.send_json(message)

    async def alert_queue(self, message: dict) -> None:
        await self.send_json(message)

    async def contact_heartbeat(self, message: dict) -> None:
        # A session can expire or be logged out while the socket stays open; the heartbeat is
        # the moment to notice, at most every SESSION_RECHECK_SECONDS per socket.
        if time.monotonic() - self.session_checked_at >= SESSION_RECHECK_SECONDS:
            self.session_checked_at = time.monotonic()
            if not await self.session_alive():
                await self.close(code=SIGNED_OUT)
                return
        await self.send_json({"type": "heartbeat", "last_id": message["last_id"], "at": message.get("at")})

    @database_sync_to_async
    def session_alive(self) -> bool:
        """The session still exists, is unexpired and still belongs to the user (a fresh read, not the scope's copy)."""
        key = getattr(self.scope.get("session"), "session_key", None)
        if not key:
            return False
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
        return store.get(SESSION_KEY) == str(self.scope["user"].pk)
