"""Reachability checks of the services ccpdash needs, and /healthz that reports them."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def redis_ok(url: str | None = None) -> bool:
    try:
        client = redis.Redis.from_url(url or settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database and Redis answer, else 503 naming what failed."""
    checks = {"database": database_ok(), "redis": redis_ok()}
    failed = [name for name, ok in checks.items() if not ok]
    body = {"status": "ok" if not failed else "failing", "failed": failed}
    return JsonResponse(body, status=503 if failed else 200)
