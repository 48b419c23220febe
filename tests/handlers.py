"""Calling Django's ASGI handler directly from a test, as Django's own test clients do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import async_to_sync
from django.core.signals import request_finished, request_started
from django.db import close_old_connections


def run_keeping_connections(call: Callable[[], Awaitable[None]]) -> None:
    """Run `call` (an ASGI exchange) to its end without the handler's request hooks closing the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        async_to_sync(call)()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
