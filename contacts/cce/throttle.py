"""The throttle of spec §6: how many contacts the CCE admitted in the current window, and the backlog.

Admission is the first step of `actions.submit` (DESIGN invariant 6), in two steps so the global lock is
short. The first, inside one transaction that holds the `CceSettings` row lock (`lock_settings()`),
counts the admissions of the last CCE_THROTTLE_WINDOW_SECONDS from the `Transition` rows (the database
is the truth, so every worker shares one count and a Redis restart forgets nothing) plus the claims
not answered yet, and claims the oldest unread contacts up to the free capacity (`claim()`, one
`AdmissionClaim` row each). The second, under `lock_admission_order()` but not the settings lock,
answers the oldest claims in arrival order (`actions`). The backlog is the unread contacts not
claimed, in arrival order.

An admission is any move out of (unread, —) except a cancel (C5/T6) and a RATE_LIMITED discard: a
submission the CCE answered, whatever it answered, counts against the rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from contacts.core.lifecycle import NOT_ADMISSIONS, UNREAD
from contacts.core.models import Contact, Transition

from .models import AdmissionClaim, CceSettings

# The PostgreSQL advisory lock that orders the answering of claims (any constant unique to this use).
ADMISSION_ORDER_LOCK = 0x63637064  # "ccpd"


def window() -> timedelta:
    return timedelta(seconds=settings.CCE_THROTTLE_WINDOW_SECONDS)


def lock_settings() -> CceSettings:
    """The settings row, locked until the current transaction ends; created if nobody has yet.

    Every admission takes this lock first, so two workers never both count the same free capacity.
    On SQLite `select_for_update` does nothing, but the IMMEDIATE transaction already holds the
    database's write lock from its first statement.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_settings() holds its lock until the transaction ends: call it inside one")
    cce = CceSettings.objects.select_for_update().filter(pk=CceSettings.SINGLETON_ID).first()
    if cce is None:
        # Two creators race on the primary key; get_or_create's savepoint absorbs the loser's error.
        CceSettings.objects.get_or_create(pk=CceSettings.SINGLETON_ID)
        cce = CceSettings.objects.select_for_update().get(pk=CceSettings.SINGLETON_ID)
    return cce


def lock_admission_order() -> None:
    """Hold, until the current transaction ends, the lock under which claims are answered, in order.

    Claims are made in arrival order (under the settings lock), and whoever holds this lock answers the
    oldest ones: two workers never answer two batches side by side, so contacts enter their queues in
    arrival order. On SQLite the transaction's write lock already orders them.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_admission_order() holds its lock until the transaction ends: call it inside one")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADMISSION_ORDER_LOCK])


def admissions_since(cutoff: datetime) -> QuerySet[Transition]:
    """Admissions after `cutoff` (index transition_from_time_idx: from_state, created_at)."""
    return Transition.objects.filter(
        from_state=UNREAD.state, from_reason=UNREAD.reason, created_at__gt=cutoff
    ).exclude(to_reason__in=NOT_ADMISSIONS)


def free_capacity(cce: CceSettings, now: datetime | None = None) -> int | None:
    """How many more contacts may be admitted now; None when the throttle is off (0 = unlimited).

    Counted over (now − window, now] with `now` read under the lock. The contacts admitted next are
    stamped later than `now`, so every window that ends at one of them lies inside
    (now − window, their time]: counting from `now − window` can only over-count, never let a
    window hold more than the limit.

    Claims not answered yet count too (their admissions will be stamped later than `now`). They are
    counted before the transitions: a claim answered between the two counts is counted twice, which
    errs on the safe side, never not at all.
    """
    if not cce.throttle_per_minute:
        return None
    now = now or timezone.now()
    pending = AdmissionClaim.objects.count()
    return max(0, cce.throttle_per_minute - pending - admissions_since(now - window()).count())


def claim(limit: int) -> list[int]:
    """Claim the oldest `limit` contacts of the backlog as admitted; returns their ids, oldest first.

    Call it under `lock_settings()` after `free_capacity()`: the claims commit with that transaction.
    """
    ids = list(backlog().values_list("pk", flat=True)[:limit])
    now = timezone.now()
    AdmissionClaim.objects.bulk_create([AdmissionClaim(contact_id=pk, claimed_at=now) for pk in ids])
    return ids


def unread() -> QuerySet[Contact]:
    """Contacts still unread: the backlog and the claimed contacts whose answers are on their way."""
    return Contact.objects.filter(state=UNREAD.state, reason=UNREAD.reason)


def backlog() -> QuerySet[Contact]:
    """Unread contacts not claimed yet, in arrival order: the next ones to submit come first."""
    claimed = AdmissionClaim.objects.filter(contact=OuterRef("pk"))
    return unread().exclude(Exists(claimed)).order_by("created_at", "id")


def beyond_backlog(size: int, limit: int) -> list[Contact]:
    """The newest unread contacts beyond the first `size` (at most `limit`): those a full backlog cannot keep."""
    excess = backlog().count() - size
    if excess <= 0:
        return []
    return list(backlog().order_by("-created_at", "-id")[: min(excess, limit)])


def backlog_length() -> int:
    """Contacts waiting in `unread` to be submitted (the throttle backlog), for the dashboard."""
    return backlog().count()


@dataclass(frozen=True)
class Usage:
    """The throttle as the dashboard shows it; `limit` 0 means unlimited."""

    limit: int
    window_seconds: float
    used: int
    backlog_length: int
    backlog_size: int


def usage() -> Usage:
    """Admissions in the current window against the limit, and the backlog against its size (reads only)."""
    cce = CceSettings.load()
    return Usage(
        limit=cce.throttle_per_minute,
        window_seconds=settings.CCE_THROTTLE_WINDOW_SECONDS,
        used=AdmissionClaim.objects.count() + admissions_since(timezone.now() - window()).count(),
        backlog_length=backlog_length(),
        backlog_size=cce.backlog_size,
    )
