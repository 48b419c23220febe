"""The dashboard's WebSocket: authorizes, joins its process's hub, and writes the hub's frames in order.

The socket is not a member of the channel-layer group itself: the process's hub (contacts.live.hub)
is, and offers each frame's text, encoded once, to every socket. Each socket has an outbox and a
writer task, so a slow browser delays only its own frames: when frames queue up behind it, the writer
sends all that wait as one WebSocket message, a JSON array of frames; when `LIVE_SOCKET_MAX_FRAMES`
wait, the browser has stopped reading and the outbox is replaced by one resync message.

Close codes the page acts on: 4401 signed out (no session, or it expired or was logged out while
the socket was open; the user deactivated, deleted or their password changed), 4403 signed in without
`contacts.view_dashboard` (also when a group or permission is withdrawn while the socket is open). An
open socket's access is checked again, from a fresh read of the session and the user, the moment a
change to that user is broadcast (`contacts.live.access`) and at a heartbeat every
SESSION_RECHECK_SECONDS (changes made past Django, such as a hand-edited row). The socket is accepted
before it is closed with them, because a browser only sees a custom close code on an accepted
socket (a refused handshake reads as 1006).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from importlib import import_module

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils.crypto import constant_time_compare

from contacts.core.permissions import VIEW_DASHBOARD

from . import hub as hubs

SIGNED_OUT, FORBIDDEN = 4401, 4403
SESSION_RECHECK_SECONDS = 30
BEHIND = '{"type":"resync","why":"behind"}'


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    # No channel of its own: the hub receives for every socket of the process (an alias with no
    # configured layer makes Channels skip the per-consumer channel and its receive loop).
    channel_layer_alias = "none: sockets receive through contacts.live.hub"
    hub: hubs.Hub | None = None
    writer: asyncio.Task | None = None
    session_checked_at = 0.0
    session_check: asyncio.Task | None = None

    async def connect(self) -> None:
        refusal = await self.refusal()
        if refusal:
            await self.accept()
            await self.close(code=refusal)
            return
        self.outbox: deque[str] = deque()
        self.waiting = asyncio.Event()
        self.session_confirmed = asyncio.Event()  # cleared while a session check runs: nothing is sent
        self.session_confirmed.set()
        # Join before accepting: once the page sees the socket open, no broadcast can slip past it,
        # so the resync it starts then covers everything before.
        self.hub = await hubs.hub()
        self.hub.add(self)
        self.session_checked_at = time.monotonic()
        await self.accept()
        self.writer = asyncio.create_task(self._write(), name="ccpdash-socket-writer")

    def offer(self, text: str) -> None:
        """Queue one frame's text (the hub calls this for every socket with the same string)."""
        if len(self.outbox) >= settings.LIVE_SOCKET_MAX_FRAMES:
            # The browser stopped reading (its buffers are full, so our sends wait): what waits is stale,
            # and the page catches up from the events endpoint when it reads again.
            self.outbox.clear()
            self.outbox.append(BEHIND)
            self.hub.overflows += 1
        self.outbox.append(text)
        self.waiting.set()

    async def _write(self) -> None:
        while True:
            if not self.outbox:
                self.waiting.clear()
                await self.waiting.wait()
                continue
            if len(self.outbox) == 1:
                text = self.outbox.popleft()
            else:  # behind: everything that waits, in one message
                texts = list(self.outbox)
                self.outbox.clear()
                text = "[" + ",".join(texts) + "]"
            await self.session_confirmed.wait()
            try:
                await self.send(text_data=text)
            except Exception:  # the socket went away under us; disconnect() follows
                return

    async def refusal(self) -> int | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return SIGNED_OUT
        if not await database_sync_to_async(user.has_perm)(VIEW_DASHBOARD):
            return FORBIDDEN
        return None

    async def disconnect(self, code: int) -> None:
        if self.hub is not None:
            self.hub.discard(self)
        for task in (self.writer, self.session_check):
            if task is not None:
                task.cancel()

    async def receive_json(self, content, **kwargs) -> None:
        """The page sends nothing the server needs; the socket is one-way."""

    @property
    def user_id(self) -> int | None:
        return getattr(self.scope.get("user"), "pk", None)

    def heartbeat_seen(self) -> None:
        """A heartbeat went by: the moment to check, at most every SESSION_RECHECK_SECONDS, that the session
        and the user's access still stand (a session can expire while the socket stays open)."""
        if time.monotonic() - self.session_checked_at < SESSION_RECHECK_SECONDS:
            return
        self.check_access()

    def check_access(self) -> None:
        """Check now (the hub calls this when the user's access changed); frames wait until it is done."""
        if self.session_check is not None and not self.session_check.done():
            return
        self.session_checked_at = time.monotonic()
        self.session_confirmed.clear()
        self.session_check = asyncio.create_task(self._close_unless_allowed())

    async def _close_unless_allowed(self) -> None:
        try:
            refusal = await self.access_refusal()
        except Exception:  # the database did not answer: keep the socket, check again at a later heartbeat
            refusal = None
        if refusal is None:
            self.session_confirmed.set()
            return
        if self.hub is not None:
            self.hub.discard(self)
        if self.writer is not None:
            self.writer.cancel()
        await self.close(code=refusal)

    @database_sync_to_async
    def access_refusal(self) -> int | None:
        """From fresh reads, not the scope's copies: SIGNED_OUT unless the session still exists, is unexpired
        and belongs to an active user whose password has not changed since; FORBIDDEN without the permission."""
        key = getattr(self.scope.get("session"), "session_key", None)
        if not key:
            return SIGNED_OUT
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
        if store.get(SESSION_KEY) != str(self.user_id):
            return SIGNED_OUT
        user = get_user_model().objects.filter(pk=self.user_id, is_active=True).first()
        if user is None or not constant_time_compare(store.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
            return SIGNED_OUT
        return None if user.has_perm(VIEW_DASHBOARD) else FORBIDDEN
