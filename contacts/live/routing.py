"""WebSocket URL routes of the contacts app (the live dashboard's socket)."""

from __future__ import annotations

from django.urls import path

from .consumers import DashboardConsumer

websocket_urlpatterns = [
    path("ws/dashboard", DashboardConsumer.as_asgi()),
]
