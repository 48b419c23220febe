"""The Celery application; configuration comes from Django settings prefixed CELERY_.

Also the one fork rule of the database pool (every forked process: Celery's prefork children, the
test suite's live server): a child never uses its parent's pool.
"""

from __future__ import annotations

import os
import sys

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccpdash.settings")

app = Celery("ccpdash")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# What a forked child inherited from its parent's pools, kept referenced so it is never finalised.
_inherited: list[object] = []


def forget_inherited_pools() -> None:
    """In a forked child: drop the parent's database pools and pooled connections without closing them.

    A pool's threads do not survive a fork and its connections' sockets are the parent's sessions:
    using one would interleave two processes on one PostgreSQL session, and closing one would end
    the parent's session. So the child sets them aside unused (psycopg never sends a Terminate for
    a connection another process opened) and opens a pool of its own on first use. Celery's Django
    fix-up then closes whatever a prefork child opens around each task.
    """
    base = sys.modules.get("django.db.backends.postgresql.base")
    pools = base.DatabaseWrapper._connection_pools if base else None
    if not pools:
        return
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.alias in pools and connection.connection is not None:
            _inherited.append(connection.connection)
            connection.connection = None
    _inherited.extend(pools.values())
    pools.clear()


os.register_at_fork(after_in_child=forget_inherited_pools)
