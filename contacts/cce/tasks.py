"""Celery tasks that drive contacts through the mock CCE: thin, idempotent, ids in.

Their names are pinned to the ones they had before the packages were split (`contacts.tasks.*`), so
messages already queued and the beat schedule keep finding them.

Each task reloads what it is given and calls `contacts.cce`, which re-checks the contact's position
and returns early if the work is done; so a redelivered message (acks_late, a killed worker) or a
duplicate enqueue does nothing twice. Timed work is never a countdown: it is a due time in the
database acted on by `sweep_due`, which Celery beat runs every CCE_SWEEP_SECONDS; work whose message
was lost is found from the contacts' positions by `reconcile`, run every CCE_RECONCILE_SECONDS.
"""

from __future__ import annotations

import redis
from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from redis import RedisError

from ccpdash.beat import BeatLock

from . import actions, routing
from . import reconcile as reconciler

# A database that is briefly unreachable or locked is worth a few retries with backoff; after the
# last one the contact keeps its position, and the sweep (routing, due events) or the reconciler
# (submits, cancels and renotifies in flight) takes the work up again.
RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="contacts.tasks.submit_contact", **RETRY)
def submit_contact(contact_id: int) -> None:
    """Submit an unread contact as the throttle allows: queued (C2/T2) or discarded (C4/T5), oldest first.

    Drains the throttle backlog in arrival order, so it may submit other contacts first; what the
    rate does not admit now stays unread and is submitted by `reconcile` as the window frees.
    """
    actions.submit(contact_id)


@shared_task(name="contacts.tasks.drain_backlog", **RETRY)
def drain_backlog() -> None:
    """Admit the throttle backlog, oldest first, as the throttle allows (DRAIN_ROUNDS batches at most).

    Sent by the reconciler when a backlog has no submit messages left to drain it (they were lost, or
    the contacts were written without any), so the live workers take it rather than the periodic one.
    """
    actions.drain_backlog()


@shared_task(name="contacts.tasks.route_mrd", **RETRY)
def route_mrd(mrd_id: int) -> None:
    """Hand the MRD's queue to its free agent slots, first in, first out."""
    routing.route(mrd_id)


@shared_task(name="contacts.tasks.cancel_contact", **RETRY)
def cancel_contact(contact_id: int) -> None:
    """Perform a requested cancel (C6/T7) now if the cancel latency is 0; else the sweep does when due."""
    actions.cancel(contact_id)


@shared_task(name="contacts.tasks.renotify_contact", **RETRY)
def renotify_contact(contact_id: int) -> None:
    """Resubmit a task at (queued, TASK_RENOTIFY_REQUESTED): T10 or T11, one attempt more."""
    actions.renotify(contact_id)


@shared_task(name="contacts.tasks.sweep_due")
def sweep_due() -> None:
    """Act on due timed events (task completions, freed slots, cancels, task life) and route again.

    Not retried: the next sweep, CCE_SWEEP_SECONDS later, does the same work.
    """
    actions.sweep()


@shared_task(name="contacts.tasks.reconcile")
def reconcile() -> None:
    """Redo what a killed worker or a restarted broker lost: drain the backlog, resume stale renotifies,
    discard queued contacts while the connection is down.

    Not retried: the next run, CCE_RECONCILE_SECONDS later, does the same work. One run at a time
    across all workers (a lock in Redis): a run that finds another still going does nothing, so the
    periodic worker's other slot stays free for the sweeps. Two runs waiting on the same backlog's
    locks once held both slots for seconds, and the sweeps (completions among them) expired unrun.
    """
    lock = BeatLock(_redis(), f"{settings.REDIS_PREFIX}:reconcile-lock", settings.CELERY_TASK_TIME_LIMIT)
    try:
        alone = lock.hold()
    except RedisError:
        alone = True  # no Redis, no broker either: this run came before it went; nothing to be alone from
    if not alone:
        return
    try:
        reconciler.reconcile()
    finally:
        try:
            lock.release()
        except RedisError:
            pass  # it expires on its own


_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _client
