"""WebSocket URL routes of the wall board (before the dashboard's, whose last route refuses every other path)."""

from __future__ import annotations

from django.urls import path

from .consumers import WallConsumer

websocket_urlpatterns = [
    path("wall/ws", WallConsumer.as_asgi()),
]
