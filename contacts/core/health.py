"""Reachability checks of the services ccpdash needs, /healthz that reports them, and the pool's start-up line."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

# One client per Redis URL and process, over a small pool of kept connections: under load a probe
# reuses a connection rather than opening (and tearing down) one per check, and it waits at most a
# second for a free connection, a connect or an answer.
_redis_clients: dict[str, redis.Redis] = {}


def database_ok() -> bool:
    """Whether this process gets a database connection (from its pool, within DB_POOL_TIMEOUT) that answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


def redis_client(url: str) -> redis.Redis:
    client = _redis_clients.get(url)
    if client is None:
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=4, timeout=1, socket_timeout=1, socket_connect_timeout=1
        )
        client = _redis_clients.setdefault(url, redis.Redis(connection_pool=pool))
    return client


def redis_ok(url: str | None = None) -> bool:
    try:
        return bool(redis_client(url or settings.REDIS_URL).ping())
    except (redis.RedisError, OSError):
        return False


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database and Redis answer, else 503 naming what failed."""
    checks = {"database": database_ok(), "redis": redis_ok()}
    failed = [name for name, ok in checks.items() if not ok]
    body = {"status": "ok" if not failed else "failing", "failed": failed}
    return JsonResponse(body, status=503 if failed else 200)


def describe_database_connections() -> str:
    """One line: the connections this process may hold (README "Database connections")."""
    lines = []
    for alias in connections:
        config = connections.settings[alias]
        pool = config.get("OPTIONS", {}).get("pool")
        if pool:
            sizes = pool if isinstance(pool, dict) else {}  # `True` is psycopg_pool's defaults
            min_size = sizes.get("min_size", 4)
            lines.append(
                f"{alias}: a pool of at most {sizes.get('max_size', min_size)} PostgreSQL connections in this process "
                f"({min_size} kept open), a request waits at most {sizes.get('timeout', 30.0):g} s for one"
            )
        else:
            lines.append(f"{alias}: {config['ENGINE'].rsplit('.', 1)[-1]}, no pool")
    return "database connections: " + "; ".join(lines)


def log_database_connections() -> None:
    logger.info(describe_database_connections())
