"""The queue overview: per MRD and per script selector, contacts by position, oldest waiting, throughput.

Every query aggregates in the database (GROUP BY, window functions), so the number of queries does
not grow with the number of contacts, and no Python loop walks the contacts table.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, F, Q, QuerySet, Sum, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from contacts.cce import throttle
from contacts.cce.models import AgentAssignment, MediaRoutingDomain
from contacts.core.formats import format_age, format_wait, midnight, reason_name
from contacts.core.lifecycle import FINAL_STATES, IN_PLAY_STATES, State
from contacts.core.models import Contact
from contacts.figures import tallies
from contacts.live.broadcast import latest_transition_id

WAITING_STATES = (State.UNREAD, State.QUEUED)


STATES = [state.value for state in State]


# grouping key -> (Contact field, heading); a contact that has no value was not submitted yet.
GROUPINGS = {"mrd": ("cce_mrd_id", "Media routing domain"), "selector": ("cce_script_selector", "Script selector")}


NOT_SUBMITTED = "not yet submitted"


def overview(now: datetime | None = None) -> dict:
    """Everything the queue overview shows, as JSON-ready data (the page's first paint and its refreshes)."""
    now = now or timezone.now()
    return {
        # Orders the page's fetched and pushed copies (contacts.dashboard.snapshots): the newest wins.
        "version": int(now.timestamp() * 1000),
        "generated_at": now.isoformat(),
        "last_id": latest_transition_id(),
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
        row(item[TALLY_GROUPS[column]]).update({name: item[name] for name in THROUGHPUT_FIELDS})
    # Numbers (MRDs) or names (selectors) in order, "not yet submitted" last.
    ordered = sorted(rows.values(), key=lambda r: (r["value"] is None, r["value"] or 0))
    return {"key": key, "heading": heading, "rows": ordered}


def _position_counts(column: str, now: datetime) -> list[dict]:
    """Counts by (state, reason): every contact still in play, and the moves into a final position since midnight.

    In play is read from the contacts (an index range scan on the in-play states, the size of the
    queues). Finished is read from the tallies (`contacts.figures.tallies`): the moves into handled and
    into each discard code since midnight, so the cells agree with the throughput columns beside them
    and a contact discarded then resubmitted and handled shows in both. Earlier days are left out: a
    supervisor's day starts at midnight, and reading them would follow the size of the history.
    """
    in_play = list(
        Contact.objects.filter(state__in=IN_PLAY_STATES).order_by().values(column, "state", "reason").annotate(
            n=Count("id")
        )
    )
    group = TALLY_GROUPS[column]
    finished = (
        tallies.tallied(tallies.minute_of(midnight(now))).filter(to_state__in=FINAL_STATES, period_start__lt=now)
        .order_by()
        .values(group, "to_state", "to_reason")
        .annotate(n=Sum("count"))
    )  # fmt: skip
    return in_play + [{column: item[group], "state": item["to_state"], "reason": item["to_reason"], "n": item["n"]}
                      for item in finished if item["n"]]


# The tallies' field for each grouping's Contact field.
TALLY_GROUPS = {"cce_mrd_id": "mrd_id", "cce_script_selector": "script_selector"}


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


def _add_count(row: dict, state: str, reason: str, count: int) -> None:
    cell = row["states"].setdefault(state, {"total": 0, "reasons": []})
    cell["total"] += count
    cell["reasons"].append({"reason": reason, "label": reason_name(reason), "count": count})
    cell["reasons"].sort(key=lambda item: (-item["count"], item["reason"]))
    row["total"] += count


def _first_per_group(column: str, states: tuple, order: list) -> QuerySet:
    """The first contact of each group in `order`, in one query (a window function, not a loop per group)."""
    ranked = Contact.objects.filter(state__in=states).annotate(
        rank=Window(RowNumber(), partition_by=[F(column)], order_by=order)
    )
    return ranked.filter(rank=1).values(column, "public_id", "created_at", "estimated_wait")


def _throughput(column: str, now: datetime) -> QuerySet:
    """Moves into handled / discarded in the last 15 minutes and since midnight, per group, from the tallies.

    Counted on moves, not on contacts' current state: a task discarded and then renotified was still
    discarded, and a supervisor should see it. The 15 minutes are whole minutes: the current one and
    the 15 before it.
    """
    recent, today = tallies.minute_of(now - timedelta(minutes=15)), tallies.minute_of(midnight(now))
    handled, discarded = Q(to_state=State.HANDLED), Q(to_state=State.DISCARDED)
    return (
        tallies.tallied(min(recent, today)).filter(to_state__in=FINAL_STATES, period_start__lt=now)
        .order_by()
        .values(TALLY_GROUPS[column])
        .annotate(
            handled_15m=Sum("count", filter=handled & Q(period_start__gte=recent), default=0),
            handled_today=Sum("count", filter=handled & Q(period_start__gte=today), default=0),
            discarded_15m=Sum("count", filter=discarded & Q(period_start__gte=recent), default=0),
            discarded_today=Sum("count", filter=discarded & Q(period_start__gte=today), default=0),
        )
    )


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
    usage = throttle.usage()
    return {"length": usage.backlog_length, "size": usage.backlog_size, "per_minute": usage.limit,
            "used": usage.used, "window_seconds": usage.window_seconds}
