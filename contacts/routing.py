"""WebSocket URL routes of the contacts app (the live dashboard's socket)."""

from __future__ import annotations

websocket_urlpatterns: list = []
