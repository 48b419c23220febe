"""The benchmark's throw-away databases: one migrated and configured template, a fresh copy of it per scenario.

Every scenario starts from the same quiet system: a copy of the template (`CREATE DATABASE … TEMPLATE`,
a file copy, no migrate) becomes Django's default database while the scenario runs, and is dropped
after it; the run's Redis keys go too, so no queue, message or dashboard group of one scenario is
left for the next. Creating and dropping happens on a connection to another database of the same
server (`admin`), since PostgreSQL copies a template only while nobody is connected to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import redis
from django.conf import settings
from django.db import connection, connections


def use(name: str) -> None:
    """Point Django's default connection (and its pool, which remembers where it connects) at database `name`."""
    connections.close_all()
    connection.close_pool()
    connection.settings_dict["NAME"] = name


def conninfo(name: str) -> str:
    """libpq connection string of database `name` on the server of Django's default database."""
    db = connection.settings_dict
    parts = {"host": db.get("HOST") or "127.0.0.1", "port": db.get("PORT") or 5432, "dbname": name,
             "user": db.get("USER") or "", "password": db.get("PASSWORD") or ""}
    return " ".join(f"{key}='{value}'" for key, value in parts.items() if value != "")


class Databases:
    """Copies of database `template`, made and dropped through database `admin` on the same server."""

    def __init__(self, template: str, admin: str) -> None:
        self.template, self.admin = template, admin

    def _execute(self, sql: str) -> None:
        with psycopg.connect(conninfo(self.admin), autocommit=True) as db:
            db.execute(sql)

    @contextmanager
    def copy(self, suffix: str) -> Iterator[str]:
        """A fresh copy of the template as Django's default database while the block runs; dropped after it."""
        name = f"{self.template}_{suffix}"
        use(self.admin)  # nobody may be connected to the template while it is copied
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        use(name)
        try:
            yield name
        finally:
            use(self.template)
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            forget_redis_keys(settings.REDIS_PREFIX)


def forget_redis_keys(prefix: str) -> None:
    """Drop every key of a private prefix (queues, bindings, channel layer groups)."""
    try:
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter(match=f"*{prefix}*", count=1000):
            client.delete(key)
    except redis.RedisError:
        pass
