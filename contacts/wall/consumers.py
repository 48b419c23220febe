"""The wall board's socket (`/wall/ws`): aggregates only, for a signed-in viewer or a screen with a link's key.

It is a dashboard socket (contacts.live.consumers) that the process's hub gives a frame of its own: only
the pushed figures (`overview.snapshot`), the alert groups (`alerts.groups`) and heartbeats, encoded once
for every wall socket of the process (`Hub.fan_out`), never the contact events a supervisor's page gets.
So a link's key shows what the board shows and nothing more. Every PING_SECONDS the socket sends a
ping, so a board whose updates stop for more than a few seconds knows its socket is gone and says so.
A revoked link closes its screens at their next access check (a heartbeat, every 30 s at most).
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async

from contacts.live.consumers import FORBIDDEN, DashboardConsumer

from . import access
from .models import WallBoardLink

PING_SECONDS = 2.0
PING = '{"type":"ping"}'


class WallConsumer(DashboardConsumer):
    aggregates_only = True  # the hub sends this socket the figures, never the events
    pinger: asyncio.Task | None = None
    link_id: int | None = None

    async def connect(self) -> None:
        await super().connect()
        if self.writer is not None:  # accepted, not refused
            self.pinger = asyncio.create_task(self._ping(), name="ccpdash-wall-ping")

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(PING_SECONDS)
            self.offer(PING)

    async def disconnect(self, code: int) -> None:
        if self.pinger is not None:
            self.pinger.cancel()
        await super().disconnect(code)

    def _key(self) -> str | None:
        return (self.scope.get("cookies") or {}).get(access.COOKIE)

    async def refusal(self) -> int | None:
        link = await database_sync_to_async(access.link_of)(self._key())
        if link is not None:
            self.link_id = link.pk
            return None
        return await super().refusal()

    async def access_refusal(self) -> int | None:
        if self.link_id is None:  # a signed-in viewer: the dashboard's own check
            return await super().access_refusal()
        return await database_sync_to_async(self._link_refusal)()

    def _link_refusal(self) -> int | None:
        """A screen's link must still be live (not revoked, not deleted)."""
        live = WallBoardLink.objects.filter(pk=self.link_id, revoked_at__isnull=True).exists()
        return None if live else FORBIDDEN
