"""Read-only queries behind the dashboard: the queue overview, the contact list and detail, the events feed.

Every query aggregates or paginates in the database (GROUP BY, window functions, keyset
pagination on (created_at, id)), so the number of queries a page makes does not grow with
the number of contacts, and no Python loop walks the contacts table.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from . import broadcast
from .cce.models import AgentAssignment, MediaRoutingDomain
from .lifecycle import State
from .models import Contact, Transition

WAITING_STATES = (State.UNREAD, State.QUEUED)
STATES = [state.value for state in State]
RESYNC_WINDOW = 200  # ids a page re-reads below its newest: covers transactions that commit out of id order
EVENTS_PAGE, EVENTS_MAX = 500, 1000
RECENT_EVENTS = 30
LIST_PAGE = 50
# grouping key -> (Contact field, heading); a contact that has no value was not submitted yet.
GROUPINGS = {"mrd": ("cce_mrd_id", "Media routing domain"), "selector": ("cce_script_selector", "Script selector")}
NOT_SUBMITTED = "not yet submitted"


def format_age(seconds: float | None) -> str:
    """'45s', '3m 05s', '2h 07m', '3d 4h': short enough for a wall screen; live.js formats the same way."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def format_wait(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 0:
        return "unknown"
    return "now" if seconds == 0 else format_age(seconds)


def midnight(now: datetime) -> datetime:
    """The last midnight in settings.TIME_ZONE (the "today" of the counters)."""
    local = now.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


# --- queue overview -------------------------------------------------------------------------------


def overview(now: datetime | None = None) -> dict:
    """Everything the queue overview shows, as JSON-ready data (the page's first paint and its refreshes)."""
    now = now or timezone.now()
    return {
        "generated_at": now.isoformat(),
        "last_id": broadcast.latest_transition_id(),
        "groupings": [queue_grouping(key, now) for key in GROUPINGS],
        "agents": agents_panel(),
        "backlog": throttle_backlog(),
    }


def queue_grouping(key: str, now: datetime) -> dict:
    """One table of the overview: a row per MRD (or script selector) plus "not yet submitted"."""
    column, heading = GROUPINGS[key]
    rows: dict[object, dict] = {}
    names = mrd_names() if key == "mrd" else {}

    def row(value: object) -> dict:
        value = value if value not in (None, "") else None
        if value not in rows:
            rows[value] = _empty_row(key, value, names.get(value, ""))
        return rows[value]

    for item in _position_counts(column, now):
        _add_count(row(item[column]), item["state"], item["reason"], item["n"])
    for item in _first_per_group(column, WAITING_STATES, [F("created_at").asc(), F("id").asc()]):
        since = item["created_at"]
        row(item[column])["oldest"] = {
            "contact": item["public_id"],
            "since": since.isoformat(),
            "age": format_age((now - since).total_seconds()),
        }
    for item in _first_per_group(column, (State.QUEUED,), [F("created_at").desc(), F("id").desc()]):
        wait = item["estimated_wait"]
        row(item[column]).update(estimated_wait=wait, estimated_wait_text=format_wait(wait))
    for item in _throughput(column, now):
        row(item[f"contact__{column}"]).update({name: item[name] for name in THROUGHPUT_FIELDS})
    # Numbers (MRDs) or names (selectors) in order, "not yet submitted" last.
    ordered = sorted(rows.values(), key=lambda r: (r["value"] is None, r["value"] or 0))
    return {"key": key, "heading": heading, "rows": ordered}


def _position_counts(column: str, now: datetime) -> QuerySet:
    """Counts by (state, reason): every contact still in play, and those finished since midnight.

    Finished contacts of earlier days are left out on purpose: counting them would read the whole
    table on every refresh (linear in its size, seconds at millions of rows), and a supervisor's
    day starts at midnight. Both halves are index range scans (state; created_at).
    """
    in_play = Q(state__in=[State.UNREAD, State.QUEUED, State.RESERVED])
    finished_today = Q(state__in=[State.HANDLED, State.DISCARDED], created_at__gte=midnight(now))
    return Contact.objects.filter(in_play | finished_today).order_by().values(column, "state", "reason").annotate(
        n=Count("id")
    )


THROUGHPUT_FIELDS = ("handled_15m", "handled_today", "discarded_15m", "discarded_today")


def mrd_names() -> dict[int, str]:
    return dict(MediaRoutingDomain.objects.values_list("id", "name"))


def _empty_row(key: str, value: object, name: str = "") -> dict:
    label = NOT_SUBMITTED if value is None else (f"MRD {value}" if key == "mrd" else str(value))
    if name:
        label = f"{label} · {name}"
    return {
        "group": f"{key}:{'' if value is None else value}",
        "value": value,
        "label": label,
        "total": 0,
        "states": {state: {"total": 0, "reasons": []} for state in STATES},
        "oldest": None,
        "estimated_wait": None,
        "estimated_wait_text": "—",
        **dict.fromkeys(THROUGHPUT_FIELDS, 0),
    }


def short_reason(reason: str) -> str:
    """'no script' for NOTIFICATION_NO_SCRIPT: wraps in narrow cells, reads from afar (the code goes in a tooltip)."""
    return reason.removeprefix("NOTIFICATION_").replace("_", " ").lower() or "—"


def _add_count(row: dict, state: str, reason: str, count: int) -> None:
    cell = row["states"].setdefault(state, {"total": 0, "reasons": []})
    cell["total"] += count
    cell["reasons"].append({"reason": reason, "label": short_reason(reason), "count": count})
    cell["reasons"].sort(key=lambda item: (-item["count"], item["reason"]))
    row["total"] += count


def _first_per_group(column: str, states: tuple, order: list) -> QuerySet:
    """The first contact of each group in `order`, in one query (a window function, not a loop per group)."""
    ranked = Contact.objects.filter(state__in=states).annotate(
        rank=Window(RowNumber(), partition_by=[F(column)], order_by=order)
    )
    return ranked.filter(rank=1).values(column, "public_id", "created_at", "estimated_wait")


def _throughput(column: str, now: datetime) -> QuerySet:
    """Moves into handled / discarded in the last 15 minutes and since midnight, per group.

    Counted on transitions, not on contacts' current state: a task discarded and then
    renotified was still discarded, and a supervisor should see it.
    """
    recent, today = now - timedelta(minutes=15), midnight(now)
    handled, discarded = Q(to_state=State.HANDLED), Q(to_state=State.DISCARDED)
    return (
        Transition.objects.filter(to_state__in=[State.HANDLED, State.DISCARDED], created_at__gte=min(recent, today))
        .order_by()
        .values(f"contact__{column}")
        .annotate(
            handled_15m=Count("id", filter=handled & Q(created_at__gte=recent)),
            handled_today=Count("id", filter=handled & Q(created_at__gte=today)),
            discarded_15m=Count("id", filter=discarded & Q(created_at__gte=recent)),
            discarded_today=Count("id", filter=discarded & Q(created_at__gte=today)),
        )
    )


# --- contact list -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A position in the list's (created_at, id) order; in URLs as '<microseconds since epoch>.<id>'."""

    created_at: datetime
    id: int

    EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

    def __str__(self) -> str:
        delta = self.created_at - self.EPOCH
        return f"{delta // timedelta(microseconds=1)}.{self.id}"

    @classmethod
    def parse(cls, raw: str) -> Cursor | None:
        micros, _, pk = raw.partition(".")
        try:
            return cls(cls.EPOCH + timedelta(microseconds=int(micros)), int(pk))
        except (ValueError, OverflowError):
            return None

    @classmethod
    def of(cls, contact: Contact) -> Cursor:
        return cls(contact.created_at, contact.pk)


@dataclass
class ContactPage:
    contacts: list[Contact]
    newer: Cursor | None = None  # pass as ?after= to see the page before this one
    older: Cursor | None = None  # pass as ?before= to see the page after this one
    first: bool = True


LIST_FIELDS = (
    "public_id", "kind", "feed_id", "state", "reason", "name", "title",
    "cce_mrd_id", "cce_script_selector", "script_selector", "created_at",
)  # fmt: skip


def filter_contacts(filters: dict, now: datetime | None = None) -> QuerySet:
    """Contacts matching the list's filters (the cleaned data of the list's GET form; empty = any)."""
    qs = Contact.objects.only(*LIST_FIELDS)
    exact = {"kind": "kind", "state": "state", "feed": "feed_id"}
    qs = qs.filter(**{column: filters[name] for name, column in exact.items() if filters.get(name) not in (None, "")})
    if filters.get("reason"):
        qs = qs.filter(reason="" if filters["reason"] == "none" else filters["reason"])
    if filters.get("selector"):
        qs = qs.filter(cce_script_selector="" if filters["selector"] == "none" else filters["selector"])
    if filters.get("mrd"):
        qs = qs.filter(cce_mrd_id__isnull=True) if filters["mrd"] == "none" else qs.filter(cce_mrd_id=filters["mrd"])
    if filters.get("window"):
        qs = qs.filter(created_at__gte=(now or timezone.now()) - filters["window"])
    if filters.get("q"):
        text = filters["q"]
        # icontains matches the trigram indexes of migration 0002 on PostgreSQL.
        qs = qs.filter(Q(name__icontains=text) | Q(title__icontains=text) | Q(public_id__icontains=text))
    return qs


def contact_page(qs: QuerySet, before: Cursor | None = None, after: Cursor | None = None) -> ContactPage:
    """One page of `qs`, newest first, by keyset on (created_at, id): no OFFSET, stable under inserts."""
    if after is not None:
        newer_q = Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, id__gt=after.id)
        rows = list(qs.filter(newer_q).order_by("created_at", "id")[: LIST_PAGE + 1])
        more_newer = len(rows) > LIST_PAGE
        contacts = rows[:LIST_PAGE][::-1]
        page = ContactPage(contacts, first=not more_newer)
        page.newer = Cursor.of(contacts[0]) if more_newer else None
        page.older = Cursor.of(contacts[-1]) if contacts else None
        return page
    if before is not None:
        qs = qs.filter(Q(created_at__lt=before.created_at) | Q(created_at=before.created_at, id__lt=before.id))
    rows = list(qs.order_by("-created_at", "-id")[: LIST_PAGE + 1])
    contacts = rows[:LIST_PAGE]
    page = ContactPage(contacts, first=before is None)
    page.newer = Cursor.of(contacts[0]) if before is not None and contacts else None
    page.older = Cursor.of(contacts[-1]) if len(rows) > LIST_PAGE else None
    return page


# --- contact detail and events --------------------------------------------------------------------


def contact_detail(public_id: str) -> Contact | None:
    """The contact with its feed and resubmission lineage (both directions) in one query."""
    qs = Contact.objects.select_related("feed", "resubmitted_from", "resubmission")
    return qs.filter(public_id=public_id).first()


def timeline(contact: Contact) -> list[Transition]:
    """Every move of the contact in id order; each row gets `.spent`, the time in the state it left."""
    rows = list(contact.transitions.select_related("user").order_by("id"))
    previous = None
    for row in rows:
        row.spent = format_age((row.created_at - previous.created_at).total_seconds()) if previous else "—"
        previous = row
    return rows


def _event_rows() -> QuerySet:
    # The payload fields are not part of an event; leave the big ones in the database.
    return Transition.objects.select_related("contact", "user").defer(
        "contact__description", "contact__variables", "contact__tags"
    )


def events_after(after: int, limit: int = EVENTS_PAGE, contact: str = "") -> tuple[list[dict], int | None]:
    """Events with id > after in id order, and the id to continue after when there are more."""
    qs = _event_rows().filter(id__gt=after)
    if contact:
        qs = qs.filter(contact__public_id=contact)
    rows = list(qs.order_by("id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return [broadcast.transition_event(row) for row in rows], (rows[-1].pk if more else None)


def recent_events(limit: int = RECENT_EVENTS) -> list[dict]:
    """The newest events, newest first: the dashboard's activity feed on first paint."""
    return [broadcast.transition_event(row) for row in _event_rows().order_by("-id")[:limit]]


# --- the mock CCE's side of the overview ------------------------------------------------------------


def agents_panel() -> list[dict]:
    """Per MRD, in id order: ready agents of all agents, slots in use, capacity (the ready agents' slots)."""
    ready = Q(agents__ready=True)
    mrds = MediaRoutingDomain.objects.order_by("id").annotate(
        agent_count=Count("agents"),
        ready_count=Count("agents", filter=ready),
        capacity=Coalesce(Sum("agents__max_concurrent", filter=ready), 0),
    )
    open_slots = (
        AgentAssignment.objects.filter(released_at__isnull=True)
        .order_by()
        .values("agent__mrd_id")
        .annotate(n=Count("id"))
    )
    in_use = {item["agent__mrd_id"]: item["n"] for item in open_slots}
    return [
        {
            "mrd": mrd.id,
            "name": mrd.name,
            "routing": mrd.routing_enabled,
            "agents": mrd.agent_count,
            "ready": mrd.ready_count,
            "in_use": in_use.get(mrd.id, 0),
            "capacity": mrd.capacity,
        }
        for mrd in mrds
    ]


def throttle_backlog() -> dict:
    """The throttle backlog (unread contacts waiting for admission), its size, the rate and its use."""
    from .cce import throttle

    usage = throttle.usage()
    return {"length": usage.backlog_length, "size": usage.backlog_size, "per_minute": usage.limit,
            "used": usage.used, "window_seconds": usage.window_seconds}
