"""The pipeline's figures read back from the database: every move is a `Transition` row with its time.

A scenario takes `mark()` (the newest transition id) before it starts; the contacts created after it
are its own, and only their moves count.
Rates are moves over the time they took, from the first move of the stage before to the last of the
stage: created → queued is T2/C2 moves over (last T2/C2 − first T1/C1), queued → handled is T4/C3
moves over (last T4/C3 − first T2/C2). For a preloaded backlog (`drain=True`) the contacts were
there before the clock starts, so created → queued runs from the first T2/C2 instead. "Handled per
second" is T4/C3 moves over (last − first T4/C3): the pace of a steady flow, without its start-up lag,
but with the spread of handle times at its end. "Handled per second while fed" (`while_fed`) counts the
T4/C3 moves from WARMUP_SECONDS after the first create to the last create, over that time: what the
pipeline sustains while contacts keep arriving.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Max, Min

from contacts.core.lifecycle import FINAL_STATES
from contacts.core.models import Contact, Transition

from .stats import per_second, percentile

CREATED, QUEUED, HANDLED = ("T1", "C1"), ("T2", "C2"), ("T4", "C3")
# Seconds after the first create before `while_fed` counts: the first contacts' handle time.
WARMUP_SECONDS = 5.0


def mark() -> int:
    return Transition.objects.aggregate(last=Max("id"))["last"] or 0


def contacts_after(transition_id: int):
    """Contacts created by the transitions after `transition_id`."""
    return Contact.objects.filter(transitions__id__gt=transition_id, transitions__rule__in=CREATED)


def in_play(after: int) -> int:
    """How many contacts created after transition `after` are neither handled nor discarded yet."""
    return contacts_after(after).exclude(state__in=FINAL_STATES).count()


def _span(rules: tuple[str, ...], after: int) -> tuple[int, datetime | None, datetime | None]:
    # Only the scenario's own contacts: one an earlier scenario left in play must not count here.
    own = contacts_after(after).values("pk")
    found = Transition.objects.filter(id__gt=after, rule__in=rules, contact__in=own).aggregate(
        n=Count("id"), first=Min("created_at"), last=Max("created_at")
    )
    return found["n"], found["first"], found["last"]


def rates(after: int, until: datetime, *, drain: bool = False) -> dict:
    """Moves per second of each stage after transition `after`, measured at `until` (see the module's docstring).

    A stage that had contacts to move but moved none by `until` has a rate of 0; one with nothing to
    move has none.
    """
    created, first_created, _ = _span(CREATED, after)
    queued, first_queued, last_queued = _span(QUEUED, after)
    handled, first_handled, last_handled = _span(HANDLED, after)
    start = first_queued if drain else first_created
    return {
        "created": created,
        "queued": queued,
        "handled": handled,
        "created_to_queued_per_second": _rate(queued, created, start, last_queued),
        "queued_to_handled_per_second": _rate(handled, queued, first_queued, last_handled),
        "end_to_end_per_second": _rate(handled, created, start, last_handled),
        "handled_per_second": (_rate(handled, queued, first_handled, last_handled) if handled > 1
                               else _rate(handled, created, start, last_handled)),
        **lifetimes(after, until),
    }


def while_fed(after: int) -> float | None:
    """Handled per second from WARMUP_SECONDS (a quarter of a shorter feed) after the first create to the last."""
    _, first_created, last_created = _span(CREATED, after)
    if first_created is None or last_created <= first_created:
        return None
    fed = (last_created - first_created).total_seconds()
    start = first_created + timedelta(seconds=min(WARMUP_SECONDS, fed / 4))
    own = contacts_after(after).values("pk")
    handled = Transition.objects.filter(id__gt=after, rule__in=HANDLED, contact__in=own, created_at__gte=start,
                                        created_at__lte=last_created).count()
    return per_second(handled, (last_created - start).total_seconds())


def _rate(count: int, waiting: int, start: datetime | None, end: datetime | None) -> float | None:
    if not waiting:
        return None
    if not count or start is None or end is None:
        return 0.0
    return per_second(count, (end - start).total_seconds()) or 0.0


def lifetimes(after: int, until: datetime) -> dict:
    """Seconds from create to handled per contact created after `after` (discarded ones aside), p50 and p99.

    A contact not handled by `until` counts with its age then: the percentiles are then lower bounds,
    and `not_handled` says how many such contacts there were.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT EXTRACT(EPOCH FROM COALESCE(done.created_at, %(until)s) - born.created_at), done.id IS NULL
            FROM contacts_transition born
            JOIN contacts_contact contact ON contact.id = born.contact_id
            LEFT JOIN contacts_transition done ON done.contact_id = born.contact_id AND done.rule IN ('T4', 'C3')
            WHERE born.id > %(after)s AND born.rule IN ('T1', 'C1') AND contact.state <> 'discarded'
            """,
            {"after": after, "until": until},
        )
        rows = cursor.fetchall()
    seconds = [float(row[0]) for row in rows]
    p50, p99 = percentile(seconds, 50), percentile(seconds, 99)
    return {
        "created_to_handled_p50_s": None if p50 is None else round(p50, 3),
        "created_to_handled_p99_s": None if p99 is None else round(p99, 3),
        "not_handled": sum(1 for row in rows if row[1]),
    }


def events(after: int, upto: int) -> dict[int, tuple[float, str]]:
    """Transition id → (its `created_at` as a POSIX time, its rule), for the ids in (after, upto]."""
    rows = Transition.objects.filter(id__gt=after, id__lte=upto).values_list("id", "created_at", "rule")
    return {event_id: (at.timestamp(), rule) for event_id, at, rule in rows}


def newest(limit: int = 30) -> list[int]:
    return list(Transition.objects.order_by("-id").values_list("id", flat=True)[:limit])


def contacts_handled() -> int:
    return Transition.objects.filter(rule__in=HANDLED).count()
