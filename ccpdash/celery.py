"""The Celery application; configuration comes from Django settings prefixed CELERY_.

Also the one fork rule of the database pool (every forked process: Celery's prefork children, the
test suite's live server): a child never uses its parent's pool.
"""

from __future__ import annotations

import logging
import os
import sys

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccpdash.settings")

log = logging.getLogger(__name__)


class DeliveryCappedTask(Task):
    """A task that runs at most CELERY_TASK_MAX_DELIVERIES times for one message.

    `acks_late` with `reject_on_worker_lost` puts a message back when the process running it dies
    (SIGKILL, the out-of-memory killer), so no work is lost with a worker; but a message that kills
    every process that runs it would be redelivered forever. Each delivery is counted in Redis under
    the task's id and retry number (a retry is a new message, not a redelivery); past the cap the
    message is acked without running, with an error in the log. Our tasks' work is found again from
    the database (the sweep, the reconciler), so dropping the poisonous message loses nothing.
    If Redis cannot be asked, the task runs: the cap protects the workers, it never blocks work.
    """

    def __call__(self, *args, **kwargs):
        deliveries = _count_delivery(self.request.id, self.request.retries or 0)
        from django.conf import settings

        if deliveries > settings.CELERY_TASK_MAX_DELIVERIES:
            log.error("task %s[%s] dropped: delivered %s times, each time its worker died", self.name,
                      self.request.id, deliveries)
            return None
        return super().__call__(*args, **kwargs)


def _count_delivery(task_id: str | None, retries: int) -> int:
    """This message's deliveries so far, this one included (0 when it cannot be counted)."""
    if not task_id:
        return 0
    import redis
    from django.conf import settings

    global _redis
    try:
        if _redis is None:
            _redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
        key = f"{settings.REDIS_PREFIX}:deliveries:{task_id}:{retries}"
        count, _ = _redis.pipeline().incr(key).expire(key, DELIVERY_COUNT_SECONDS).execute()
        return int(count)
    except redis.RedisError:
        return 0


# Deliveries are remembered a day: longer than any message waits in a queue or is redelivered.
DELIVERY_COUNT_SECONDS = 86400
_redis = None

app = Celery("ccpdash", task_cls=DeliveryCappedTask)
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
