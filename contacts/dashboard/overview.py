"""The queue overview: the KPI panel (`kpis`), then per MRD and per script selector, contacts by position, oldest
waiting, throughput.

Every query aggregates in the database (GROUP BY, window functions), so the number of queries does
not grow with the number of contacts, and no Python loop walks the contacts table.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from contacts.cce import throttle
from contacts.cce.models import AgentAssignment, MediaRoutingDomain
from contacts.core.formats import format_age, format_wait, midnight, reason_name
from contacts.core.lifecycle import CANCEL_SUCCEEDED, FINAL_STATES, IN_PLAY_STATES, State
from contacts.core.models import Contact
from contacts.figures import catalogue, tallies
from contacts.live.broadcast import latest_transition_id

from . import kpis

WAITING_STATES = (State.UNREAD, State.QUEUED)

# The row's columns: the lifecycle's states, with the successful cancels (discarded, …CANCEL_SUCCEEDED)
# apart from the discards in a column of their own. A cancel is what the client asked for, not a failure:
# counted and coloured as a discard it made a quiet queue look broken (figures catalogue: "cancelled").
CANCELLED = "cancelled"
STATES = [state.value for state in State] + [CANCELLED]


# grouping key -> (Contact field, heading); a contact that has no value was not submitted yet.
GROUPINGS = {"mrd": ("cce_mrd_id", "Media routing domain"), "selector": ("cce_script_selector", "Script selector")}


NOT_SUBMITTED = "not yet submitted"
# One row for every MRD id the configuration lacks (a callback feed's notification naming MRD 9999, an MRD
# deleted since): never a row, or a chart, per unknown id (figures catalogue: UNKNOWN_MRD).
UNKNOWN_MRD = catalogue.UNKNOWN_MRD
UNKNOWN_LABEL = "MRD not configured"


def overview(now: datetime | None = None) -> dict:
    """Everything the queue overview shows, as JSON-ready data (the page's first paint and its refreshes)."""
    now = now or timezone.now()
    names = mrd_names()
    return {
        # Orders the page's fetched and pushed copies (contacts.dashboard.snapshots): the newest wins.
        "version": int(now.timestamp() * 1000),
        "generated_at": now.isoformat(),
        "last_id": latest_transition_id(),
        "kpis": kpis.panel(now, names),
        "groupings": queue_groupings(now, names),
        "agents": agents_panel(),
        "backlog": throttle_backlog(),
    }


def queue_groupings(now: datetime, names: dict[int, str] | None = None) -> list[dict]:
    """The overview's tables: a row per MRD (and per script selector) plus "not yet submitted".

    Both tables come from the same three queries, each grouped by MRD and selector together and split
    here: their cost is that of one table, and they cannot disagree on what they counted.
    """
    names = mrd_names() if names is None else names
    tables: dict[str, dict[object, dict]] = {key: {} for key in GROUPINGS}

    def row_of(key: str, value: object) -> dict:
        if key == "mrd" and value is not None and value not in names:
            value = UNKNOWN_MRD
        return _row(tables[key], key, value, names)

    def rows_of(item: dict, mrd_field: str, selector_field: str) -> list[dict]:
        """The two rows (one per table) that the grouped item counts in."""
        return [row_of("mrd", item[mrd_field]), row_of("selector", item[selector_field])]

    for item in _in_play():
        for row in rows_of(item, "cce_mrd_id", "cce_script_selector"):
            _add_count(row, item["state"], item["reason"], item["n"])
    for item in _finished(now):
        for row in rows_of(item, "mrd_id", "script_selector"):
            _add_finished(row, item)
    newest_at: dict[int, datetime] = {}  # id(row) -> created_at of the newest queued contact kept
    for item in _firsts():
        for key, (column, _) in GROUPINGS.items():
            row = row_of(key, item[column])
            if item[f"oldest_{key}"] == 1:
                _keep_oldest(row, item, now)
            if item[f"newest_{key}"] == 1:
                _keep_newest(row, item, newest_at)
    return [
        {"key": key, "heading": GROUPINGS[key][1], "rows": _ordered(tables[key])}
        for key in GROUPINGS
    ]


def _row(table: dict[object, dict], key: str, value: object, names: dict[int, str] | None = None) -> dict:
    value = value if value not in (None, "") else None
    if value not in table:
        table[value] = _empty_row(key, value, (names or {}).get(value, ""))
    return table[value]


def _ordered(table: dict[object, dict]) -> list[dict]:
    """Numbers (MRDs) or names (selectors) in order; the unknown MRDs, then "not yet submitted", last."""
    return sorted(table.values(), key=lambda r: (r["value"] is None, r["value"] == UNKNOWN_MRD,
                                                 0 if r["value"] in (None, UNKNOWN_MRD) else r["value"]))


def _keep_oldest(row: dict, item: dict, now: datetime) -> None:
    since = item["created_at"]
    if row["oldest"] is None or since < datetime.fromisoformat(row["oldest"]["since"]):
        row["oldest"] = {"contact": item["public_id"], "since": since.isoformat(),
                         "age": format_age((now - since).total_seconds())}


def _keep_newest(row: dict, item: dict, newest_at: dict[int, datetime]) -> None:
    """The estimate of the row's newest queued contact (unknown MRDs share a row: the newest of them)."""
    if item["state"] != State.QUEUED:
        return
    if id(row) not in newest_at or item["created_at"] > newest_at[id(row)]:
        newest_at[id(row)] = item["created_at"]
        wait = item["estimated_wait"]
        row.update(estimated_wait=wait, estimated_wait_text=format_wait(wait))


def _in_play() -> QuerySet:
    """Counts by (MRD, selector, state, reason) of the contacts still in play (an index range scan on the
    in-play states: the size of the queues)."""
    return (
        Contact.objects.filter(state__in=IN_PLAY_STATES).order_by()
        .values("cce_mrd_id", "cce_script_selector", "state", "reason").annotate(n=Count("id"))
    )  # fmt: skip


def _finished(now: datetime) -> QuerySet:
    """Moves into a final position by (MRD, selector, position): since midnight, and in the last 15 minutes.

    Read from the tallies (`contacts.figures.tallies`), so the finished cells and the throughput columns
    beside them come from the same rows and agree, and a contact discarded then resubmitted and handled
    shows in both positions. Counted on moves, not on contacts' current state: a task discarded and then
    renotified was still discarded, and a supervisor should see it. Earlier days are left out: a
    supervisor's day starts at midnight, and reading them would follow the size of the history. The 15
    minutes are whole minutes: the current one and the 15 before it.
    """
    recent, today = tallies.minute_of(now - timedelta(minutes=15)), tallies.minute_of(midnight(now))
    return (
        tallies.tallied(min(recent, today)).filter(to_state__in=FINAL_STATES, period_start__lt=now)
        .order_by()
        .values("mrd_id", "script_selector", "to_state", "to_reason")
        .annotate(today=Sum("count", filter=Q(period_start__gte=today), default=0),
                  recent=Sum("count", filter=Q(period_start__gte=recent), default=0))
    )  # fmt: skip


def _add_finished(row: dict, item: dict) -> None:
    """Count a kind of finished move in the row's cells and its throughput columns.

    A successful cancel (discarded, …CANCEL_SUCCEEDED) goes to the cancelled column, never to the discards.
    """
    state, reason = item["to_state"], item["to_reason"]
    if state == State.DISCARDED and reason in CANCEL_SUCCEEDED:
        state = CANCELLED
    if item["today"]:
        _add_count(row, state, reason, item["today"])
    if state == CANCELLED:
        row[CANCELLED_TODAY] += item["today"]
    else:
        row[f"{state}_15m"] += item["recent"]
        row[f"{state}_today"] += item["today"]


THROUGHPUT_FIELDS = ("handled_15m", "handled_today", "discarded_15m", "discarded_today")
# Beside them: today's successful cancels, which are not discards.
CANCELLED_TODAY = "cancelled_today"


def mrd_names() -> dict[int, str]:
    return dict(MediaRoutingDomain.objects.values_list("id", "name"))


def _empty_row(key: str, value: object, name: str = "") -> dict:
    if value is None:
        label = NOT_SUBMITTED
    elif value == UNKNOWN_MRD:
        label = UNKNOWN_LABEL
    else:
        label = f"MRD {value}" if key == "mrd" else str(value)
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
        CANCELLED_TODAY: 0,
    }


def _add_count(row: dict, state: str, reason: str, count: int) -> None:
    cell = row["states"].setdefault(state, {"total": 0, "reasons": []})
    cell["total"] += count
    for item in cell["reasons"]:
        if item["reason"] == reason:
            item["count"] += count
            break
    else:
        cell["reasons"].append({"reason": reason, "label": reason_name(reason), "count": count})
    cell["reasons"].sort(key=lambda item: (-item["count"], item["reason"]))
    row["total"] += count


def _firsts() -> QuerySet:
    """The oldest waiting and the newest queued contact of each MRD and of each selector, in one query.

    Four window functions over the waiting contacts (unread and queued: the size of the queues), each
    row marked with its rank in each; only rows first in one of them come back.
    """
    oldest = [F("created_at").asc(), F("id").asc()]
    newest = [F("created_at").desc(), F("id").desc()]
    ranks = {}
    for key, (column, _) in GROUPINGS.items():
        ranks[f"oldest_{key}"] = Window(RowNumber(), partition_by=[F(column)], order_by=oldest)
        # Only queued contacts carry an estimate: unread ones rank after them (state "queued" > "unread").
        ranks[f"newest_{key}"] = Window(RowNumber(), partition_by=[F(column)], order_by=[F("state").asc(), *newest])
    ranked = Contact.objects.filter(state__in=WAITING_STATES).annotate(**ranks)
    first = Q()
    for name in ranks:
        first |= Q(**{name: 1})
    return ranked.filter(first).values("cce_mrd_id", "cce_script_selector", "public_id", "created_at",
                                       "estimated_wait", "state", *ranks)


def agents_panel() -> list[dict]:
    """Per MRD, in id order: ready agents of all agents, slots in use, capacity (the ready agents' slots).

    One query: the agents' counts grouped per MRD, the open assignments a subquery per MRD (an index lookup).
    """
    ready = Q(agents__ready=True)
    open_slots = (
        AgentAssignment.objects.filter(released_at__isnull=True, agent__mrd_id=OuterRef("pk"))
        .order_by()
        .values("agent__mrd_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    mrds = MediaRoutingDomain.objects.order_by("id").annotate(
        agent_count=Count("agents"),
        ready_count=Count("agents", filter=ready),
        capacity=Coalesce(Sum("agents__max_concurrent", filter=ready), 0),
        in_use=Coalesce(Subquery(open_slots, output_field=IntegerField()), 0),
    )
    return [
        {
            "mrd": mrd.id,
            "name": mrd.name,
            "routing": mrd.routing_enabled,
            "agents": mrd.agent_count,
            "ready": mrd.ready_count,
            "in_use": mrd.in_use,
            "capacity": mrd.capacity,
        }
        for mrd in mrds.only("id", "name", "routing_enabled")
    ]


def throttle_backlog() -> dict:
    """The throttle backlog (unread contacts waiting for admission), its size, the rate and its use."""
    usage = throttle.usage()
    return {"length": usage.backlog_length, "size": usage.backlog_size, "per_minute": usage.limit,
            "used": usage.used, "window_seconds": usage.window_seconds}
