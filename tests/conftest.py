"""Shared fixtures and markers of the test suite."""

from __future__ import annotations

import os

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.db import connection, connections

# Real Celery worker fixtures (worker, start_worker, kill_worker) for every test module.
pytest_plugins = ["tests.workers"]


def on_postgresql() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items) -> None:
    """Skip what this machine cannot run, loudly; in CI (CCPDASH_REQUIRE_ALL_TESTS=1) fail instead."""
    strict = os.environ.get("CCPDASH_REQUIRE_ALL_TESTS") == "1"
    chromium = os.path.exists("/usr/bin/chromium")
    from django.conf import settings

    postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    for item in items:
        reason = None
        if item.get_closest_marker("postgres") and not postgres:
            reason = "proves PostgreSQL-only behaviour: set DATABASE_URL=postgres://... (CI always runs it)"
        elif item.get_closest_marker("browser") and not chromium:
            reason = "needs Debian's chromium (apt-get install chromium chromium-driver; CI installs it)"
        if reason and strict:
            raise pytest.UsageError(f"{item.nodeid} {reason}; CCPDASH_REQUIRE_ALL_TESTS=1 forbids skipping it")
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest_asyncio.fixture
async def close_thread_connections():
    """After an async test: close the connections of the one thread consumers and sync_to_async share.

    That thread's connection would outlive the test (CONN_MAX_AGE) and keep PostgreSQL from dropping
    the test database. Use with `@pytest.mark.usefixtures("close_thread_connections")`.
    """
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
def forget_api_throttles() -> None:
    """Before each test: forget the run's wrong feed tokens and API rate counts (contacts.api.throttle).

    They live in Redis for a cool-off (a quarter of an hour), longer than a test: one test's wrong tokens would
    lock the next test's client (every test client is 127.0.0.1) out of the API. A test without Redis goes on.
    """
    forget_throttle_counts()


def forget_throttle_counts() -> None:
    """Delete the run's throttle keys (the fuzz suite also calls it between the inputs of one test)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        keys = list(client.scan_iter(match=f"{settings.REDIS_PREFIX}:throttle:*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass
    finally:
        client.close()
