"""Reading and acknowledging alerts: the alert list's first paint, the resync feed, the unacknowledged count.

Three id sequences carry alerts: transitions (discard alerts), queue alerts and acknowledgements.
As with events (DESIGN invariant 3), ids grow by insert, not commit, so a page re-reads after its last
id of each sequence minus a window and dedupes; a queue alert's clear changes an old row, so the page
also names the queue alerts it holds open and gets their present state back. Reads stay within the
alert horizon and are bounded by limits: no query grows with the number of contacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from contacts.core.lifecycle import Source
from contacts.live import broadcast

from .discards import ack_json, alert_rows, discard_alert_list, discard_alerts
from .models import AlertAcknowledgement, QueueAlert
from .queues import queue_alert_list

HORIZON = timedelta(hours=24)  # older alerts are history: not listed, not counted
LIST_SIZE = 100
FEED_PAGE = 200
ACK_MAX = 1000  # alerts one request may acknowledge
ACKS_PER_MESSAGE = 200  # beyond this a broadcast says "more" and pages re-read the feed
OPEN_MAX = 100  # queue alerts a page may ask about by id
SEQUENCES = ("discards", "queue", "acks")


@dataclass(frozen=True)
class Cursors:
    """A page's position in each sequence: the newest id it has read (the feed answers what comes after)."""

    discards: int = 0
    queue: int = 0
    acks: int = 0

    def as_json(self) -> dict:
        return {name: getattr(self, name) for name in SEQUENCES}


def latest() -> Cursors:
    """The newest id of each sequence, read before the rows they bound (so nothing in between is skipped)."""
    return Cursors(
        discards=broadcast.latest_transition_id(),
        queue=QueueAlert.objects.aggregate(last=Max("id"))["last"] or 0,
        acks=AlertAcknowledgement.objects.aggregate(last=Max("id"))["last"] or 0,
    )


def queue_rows():
    return QueueAlert.objects.select_related("acknowledgement__user")


def ack_rows():
    return AlertAcknowledgement.objects.select_related("user")


def unacknowledged(now: datetime | None = None) -> int:
    """Alerts of the horizon nobody acknowledged, plus queue alerts still open however old."""
    since = (now or timezone.now()) - HORIZON
    # Every page's top bar shows this: two counts of index entries (`transition_to_time_idx`,
    # `ack_discard_alert_at_idx`), where a join would probe an acknowledgement per discard of the horizon.
    discards = discard_alerts().filter(created_at__gte=since).count()
    discards -= AlertAcknowledgement.objects.filter(transition__isnull=False, alert_at__gte=since).count()
    queue = QueueAlert.objects.filter(Q(raised_at__gte=since) | Q(cleared_at__isnull=True))
    return discards + queue.filter(acknowledgement__isnull=True).count()


def recent(now: datetime | None = None, limit: int = LIST_SIZE) -> list[dict]:
    """The newest alerts of the horizon, newest first: the alert list's first paint."""
    since = (now or timezone.now()) - HORIZON
    # The newest ids first, then their rows with what they show: the planner would otherwise join the
    # contact and acknowledgement of every discard of the horizon (thousands at a million contacts)
    # before keeping `limit` of them.
    newest = list(discard_alerts().filter(created_at__gte=since).order_by("-id").values_list("id", flat=True)[:limit])
    discards = discard_alert_list(alert_rows().filter(id__in=newest).order_by("-id"))
    queue = queue_alert_list(list(queue_rows().filter(raised_at__gte=since).order_by("-id")[:limit]))
    return sorted(discards + queue, key=lambda a: (a["at"], a["id"]), reverse=True)[:limit]


def open_queue_ids() -> list[int]:
    return list(QueueAlert.objects.filter(cleared_at__isnull=True).order_by("id").values_list("id", flat=True))


def feed(after: Cursors, open_ids: list[int], limit: int = FEED_PAGE) -> dict:
    """Everything after the cursors in id order, the present state of `open_ids`, and the cursors to go on from.

    `more` is true when a sequence had more than `limit`: ask again from the returned cursors.
    """
    newest = latest()
    discards = list(alert_rows().filter(id__gt=after.discards).order_by("id")[: limit + 1])
    queue = list(queue_rows().filter(id__gt=after.queue).order_by("id")[: limit + 1])
    held = list(queue_rows().filter(id__in=open_ids[:OPEN_MAX], id__lte=after.queue).order_by("id"))
    acks = list(ack_rows().filter(id__gt=after.acks).order_by("id")[: limit + 1])
    more = {"discards": len(discards) > limit, "queue": len(queue) > limit, "acks": len(acks) > limit}
    discards, queue, acks = discards[:limit], queue[:limit], acks[:limit]
    cursors = Cursors(
        discards=discards[-1].pk if more["discards"] else max(newest.discards, after.discards),
        queue=queue[-1].pk if more["queue"] else max(newest.queue, after.queue),
        acks=acks[-1].pk if more["acks"] else max(newest.acks, after.acks),
    )
    return {
        "alerts": discard_alert_list(discards) + queue_alert_list(held + queue),
        "acks": [ack_json(ack) for ack in acks],
        "cursors": cursors.as_json(),
        "more": any(more.values()),
        "unacknowledged": unacknowledged(),
    }


# --- acknowledging ------------------------------------------------------------------------------------------


def parse_keys(keys: list[str]) -> tuple[set[int], set[int]]:
    """("d12", "q3", ...) → (transition ids, queue alert ids); anything else is ignored."""
    found: dict[str, set[int]] = {"d": set(), "q": set()}
    for key in keys:
        prefix, number = key[:1], key[1:]
        if prefix in found and number.isdigit():
            found[prefix].add(int(number))
    return found["d"], found["q"]


def acknowledge(user, keys: list[str], now: datetime | None = None) -> list[AlertAcknowledgement]:
    """Acknowledge the alerts named by `keys` as `user`; returns every acknowledgement they now have.

    The first acknowledgement of an alert wins (one row per alert, a unique column): acknowledging
    again, or at the same moment as another supervisor, keeps the first and returns it.
    """
    transition_ids, queue_ids = parse_keys(keys[:ACK_MAX])
    discards_at = dict(discard_alerts().filter(id__in=transition_ids).values_list("id", "created_at"))
    queue_at = dict(QueueAlert.objects.filter(id__in=queue_ids).values_list("id", "raised_at"))
    transition_ids, queue_ids = set(discards_at), set(queue_at)
    now = now or timezone.now()
    rows = [AlertAcknowledgement(transition_id=pk, user=user, at=now, alert_at=discards_at[pk])
            for pk in sorted(transition_ids)]
    rows += [AlertAcknowledgement(queue_alert_id=pk, user=user, at=now, alert_at=queue_at[pk])
             for pk in sorted(queue_ids)]
    with transaction.atomic():
        AlertAcknowledgement.objects.bulk_create(rows, ignore_conflicts=True)
        acks = list(
            ack_rows()
            .select_related("transition__contact")
            .defer("transition__contact__description", "transition__contact__variables", "transition__contact__tags")
            .filter(Q(transition_id__in=transition_ids) | Q(queue_alert_id__in=queue_ids))
            .order_by("id")
        )
        # Ours are those with our time: an alert someone else acknowledged first keeps their row.
        audit([a for a in acks if a.user_id == user.pk and a.at == now], user)
        transaction.on_commit(lambda: send_acks(acks))
    return acks


def audit(acks: list[AlertAcknowledgement], user) -> None:
    """One audit entry per acknowledgement made, in its transaction; a discard's shows on its contact's timeline."""
    from contacts.workflows.models import AuditAction, AuditEntry

    entries = [
        AuditEntry(
            action=AuditAction.ACKNOWLEDGE,
            user=user,
            username=user.get_username(),
            source=Source.DASHBOARD,
            contact=ack.transition.contact if ack.transition_id else None,
            contact_public_id=ack.transition.contact.public_id if ack.transition_id else "",
            details={"alert": ack.alert_key},
            created_at=ack.at,
        )
        for ack in acks
    ]
    AuditEntry.objects.bulk_create(entries)


def acknowledge_all(user, upto: Cursors, now: datetime | None = None) -> list[AlertAcknowledgement]:
    """Acknowledge every unacknowledged alert of the horizon the page has seen (ids up to `upto`)."""
    since = (now or timezone.now()) - HORIZON
    discards = discard_alerts().filter(id__lte=upto.discards, created_at__gte=since, acknowledgement__isnull=True)
    queue = QueueAlert.objects.filter(id__lte=upto.queue, acknowledgement__isnull=True).filter(
        Q(raised_at__gte=since) | Q(cleared_at__isnull=True)
    )
    keys = [f"d{pk}" for pk in discards.order_by("-id").values_list("id", flat=True)[:ACK_MAX]]
    keys += [f"q{pk}" for pk in queue.order_by("-id").values_list("id", flat=True)[: ACK_MAX - len(keys)]]
    return acknowledge(user, keys, now)


def send_acks(acks: list[AlertAcknowledgement]) -> None:
    """Tell every open dashboard; a long list goes as its first part and "more", and pages re-read the feed."""
    if acks:
        message = {"type": "alert.ack", "acks": [ack_json(a) for a in acks[:ACKS_PER_MESSAGE]]}
        message["more"] = len(acks) > ACKS_PER_MESSAGE
        broadcast.send(broadcast.DASHBOARD_GROUP, message)
