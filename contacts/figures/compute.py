"""The catalogue's figures computed from the database: per configured MRD, for contacts outside it, and in total.

`queue_figures(now)` makes the same five queries whatever the number of contacts: each one aggregates in
the database (GROUP BY, a window function), and the Python loops run over MRDs and agents' groups, never
over contacts. "now" figures read the contacts' and agents' positions as they are; windowed figures sum
the move tallies (`contacts.figures.tallies`) of the periods in [window start, now), so their cost follows
the number of periods, not the traffic. A move counts in the MRD its contact has now (a task renotified
onto another selector takes its history along): transitions do not record an MRD.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import (
    Avg,
    Count,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Window,
)
from django.db.models.functions import Coalesce, Greatest, RowNumber
from django.utils import timezone

from contacts.cce import decisions, queues
from contacts.cce.models import Agent, MediaRoutingDomain
from contacts.core.models import Contact, Transition
from contacts.core.positions import Pair

from . import catalogue, tallies
from .catalogue import BY_KEY, PER_MRD_KEYS, TOTAL, UNKNOWN_MRD

Row = dict[str, object]
Bucket = int | str

# Figures that count moves in their window, all in one query.
MOVE_COUNTS = ("handled", "discarded", "cancelled", "left_queue")
# Figures whose total row is the sum of the rows.
SUMMED = (*MOVE_COUNTS, "waiting", "answered_in_threshold", "ready_agents", "free_slots")
pairs_q, moves_q = tallies.pairs_q, tallies.moves_q


def queue_figures(now: datetime | None = None) -> dict[Bucket, Row]:
    """Every figure of the catalogue: a row per configured MRD (by id), UNKNOWN_MRD, and TOTAL (every figure).

    Per-MRD rows and UNKNOWN_MRD carry the figures with `per_mrd`; each MRD appears even when it is
    quiet. `longest_wait_contact` (a public id, or None) goes with `longest_wait`.
    """
    now = now or timezone.now()
    thresholds = dict(MediaRoutingDomain.objects.values_list("id", "service_level_seconds"))
    rows: dict[Bucket, Row] = {mrd_id: _empty_row() for mrd_id in sorted(thresholds)}
    rows[UNKNOWN_MRD] = _empty_row()

    def bucket(mrd_id: int | None) -> Bucket:
        return mrd_id if mrd_id in thresholds else UNKNOWN_MRD

    in_queue, backlog = _positions(rows, bucket)
    _longest_waits(rows, bucket, now)
    _moves(rows, bucket, now)
    _agents(rows, bucket, in_queue)
    for row in rows.values():
        row["service_level"] = _ratio(row["answered_in_threshold"], row["left_queue"])
    rows[TOTAL] = _total(rows, backlog)
    return rows


def _empty_row() -> Row:
    row: Row = dict.fromkeys(PER_MRD_KEYS, 0)
    row.update(longest_wait=None, longest_wait_contact=None, service_level=None, estimated_wait=-1)
    return row


def _positions(rows: dict[Bucket, Row], bucket) -> tuple[dict[Bucket, int], int]:
    """Waiting per bucket, and what the figures need besides: in the queue per bucket, the backlog in total.

    One count per (MRD, position) over the contacts at the positions any of them counts, sorted into the
    figures here: the sets are the catalogue's, and a filter per figure would only make the same query
    longer to build.
    """
    waiting, in_queue, backlog = BY_KEY["waiting"].positions, catalogue.IN_QUEUE, BY_KEY["backlog"].positions
    counts = (
        Contact.objects.filter(pairs_q(in_queue | backlog))
        .order_by()
        .values("cce_mrd_id", "state", "reason")
        .annotate(n=Count("id"))
    )  # fmt: skip
    queued: dict[Bucket, int] = defaultdict(int)
    total_backlog = 0
    for item in counts:
        pair, key = Pair(item["state"], item["reason"]), bucket(item["cce_mrd_id"])
        if pair in waiting:
            rows[key]["waiting"] += item["n"]
        if pair in in_queue:
            queued[key] += item["n"]
        if pair in backlog:
            total_backlog += item["n"]
    return queued, total_backlog


def _entered_queue(contact: OuterRef, before: OuterRef | None = None) -> Subquery:
    """When the contact last entered the queue to wait (its latest move of QUEUE_ENTRIES, before `before`)."""
    entries = Transition.objects.filter(moves_q(catalogue.QUEUE_ENTRIES), contact=contact)
    if before is not None:
        entries = entries.filter(id__lt=before)
    return Subquery(entries.order_by("-id").values("created_at")[:1])


def _longest_waits(rows: dict[Bucket, Row], bucket, now: datetime) -> None:
    """Per MRD the waiting contact that entered the queue first (one query: a window function)."""
    # A contact written without its entry Transition (imported, hand-made) waits from its creation.
    ranked = (
        Contact.objects.filter(pairs_q(BY_KEY["longest_wait"].positions))
        .annotate(queued_at=Coalesce(_entered_queue(OuterRef("pk")), F("created_at")))
        .annotate(rank=Window(RowNumber(), partition_by=[F("cce_mrd_id")], order_by=[F("queued_at"), F("id")]))
    )
    for item in ranked.filter(rank=1).values("cce_mrd_id", "public_id", "queued_at"):
        row = rows[bucket(item["cce_mrd_id"])]
        wait = max(0, int((now - item["queued_at"]).total_seconds()))
        # Several unknown MRD ids share one bucket: it keeps the longest of their waits.
        if row["longest_wait"] is None or wait > row["longest_wait"]:
            row.update(longest_wait=wait, longest_wait_contact=item["public_id"])


def _moves(rows: dict[Bucket, Row], bucket, now: datetime) -> None:
    """The MOVE_COUNTS figures and the answers within threshold, from one grouped query over the tallies.

    The tallies of the earliest window's start are counted per (MRD, move, within threshold, whether in
    each figure's window), then each kind of move is matched to the figures that count it (their `Moves`):
    a few hundred rows a day, where one filtered sum per figure made a query slower to build than to run.
    """
    figures = [BY_KEY[key] for key in (*MOVE_COUNTS, "answered_in_threshold")]
    starts = {figure.key: tallies.minute_of(figure.window.start(now)) for figure in figures}
    windows = sorted(set(starts.values()))
    counts = (
        tallies.tallied(windows[0]).filter(period_start__lt=now)
        .order_by()
        .values("mrd_id", "from_state", "from_reason", "to_state", "to_reason", "in_threshold")
        .annotate(**{f"since_{i}": Sum("count", filter=Q(period_start__gte=start), default=0)
                     for i, start in enumerate(windows)})
    )  # fmt: skip
    for item in counts:
        move = Pair(item["from_state"], item["from_reason"]), Pair(item["to_state"], item["to_reason"])
        row = rows[bucket(item["mrd_id"])]
        for figure in figures:
            if figure.key == "answered_in_threshold" and not item["in_threshold"]:
                continue
            if _counts(figure.moves, *move):
                row[figure.key] += item[f"since_{windows.index(starts[figure.key])}"]


def _counts(moves: catalogue.Moves, source: Pair, target: Pair) -> bool:
    return target in moves.targets and (moves.sources is None or source in moves.sources)


def _agents(rows: dict[Bucket, Row], bucket, in_queue: dict[Bucket, int]) -> None:
    """Ready agents, free slots and the §7 estimate per MRD, from one grouped query over the ready agents."""
    used = queues.slots_in_use()
    groups = (
        Agent.objects.filter(ready=True)
        .order_by()
        .values("mrd_id")
        .annotate(ready=Count("id"), slots=Sum("max_concurrent"), free=Sum(Greatest(F("max_concurrent") - used, 0)),
                  handle_sum=Avg(F("handle_time_min") + F("handle_time_max")))
    )  # fmt: skip
    for item in groups:
        key = bucket(item["mrd_id"])
        capacity = queues.Capacity(item["ready"], item["slots"], item["free"], float(item["handle_sum"]) / 2)
        rows[key].update(ready_agents=item["ready"], free_slots=item["free"])
        rows[key]["estimated_wait"] = decisions.estimate_wait(capacity, in_queue.get(key, 0))
    # An MRD without a ready agent keeps the row's -1, which is what §7 says then.


def _total(rows: dict[Bucket, Row], backlog: int) -> Row:
    total: Row = {key: sum(row[key] for row in rows.values()) for key in SUMMED}
    longest = max((row for row in rows.values() if row["longest_wait"] is not None),
                  key=lambda row: row["longest_wait"], default=None)  # fmt: skip
    known = [row["estimated_wait"] for row in rows.values() if row["estimated_wait"] >= 0]
    total.update(
        longest_wait=longest["longest_wait"] if longest else None,
        longest_wait_contact=longest["longest_wait_contact"] if longest else None,
        service_level=_ratio(total["answered_in_threshold"], total["left_queue"]),
        estimated_wait=max(known, default=-1),
        backlog=backlog,
    )
    return total


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None

