"""WebSocket URL routes of the contacts app (the live dashboard's socket)."""

from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path, re_path

from .consumers import DashboardConsumer


class UnknownSocket(AsyncWebsocketConsumer):
    """Any other path: the handshake is refused (403), where the router alone would fail with a 500."""

    async def connect(self) -> None:
        await self.close()


websocket_urlpatterns = [
    path("ws/dashboard", DashboardConsumer.as_asgi()),
    re_path(r"", UnknownSocket.as_asgi()),
]
