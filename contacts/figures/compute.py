"""The catalogue's figures computed from the database: per configured MRD, for contacts outside it, and in total.

`queue_figures(now)` makes the same six queries whatever the number of contacts: each one aggregates in
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
    _answers_in_threshold(rows, bucket, now)
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
    """Waiting per bucket, and what the figures need besides: in the queue per bucket, the backlog in total."""
    waiting = pairs_q(BY_KEY["waiting"].positions)
    in_queue = pairs_q(catalogue.IN_QUEUE)
    backlog = pairs_q(BY_KEY["backlog"].positions)
    counts = (
        Contact.objects.filter(in_queue | backlog)
        .order_by()
        .values("cce_mrd_id")
        .annotate(waiting=Count("id", filter=waiting), in_queue=Count("id", filter=in_queue),
                  backlog=Count("id", filter=backlog))
    )  # fmt: skip
    queued: dict[Bucket, int] = defaultdict(int)
    total_backlog = 0
    for item in counts:
        rows[bucket(item["cce_mrd_id"])]["waiting"] += item["waiting"]
        queued[bucket(item["cce_mrd_id"])] += item["in_queue"]
        total_backlog += item["backlog"]
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
    """The MOVE_COUNTS figures, each over its own window, in one grouped query over the tallies."""
    figures = [BY_KEY[key] for key in MOVE_COUNTS]
    starts = {figure.key: tallies.minute_of(figure.window.start(now)) for figure in figures}
    counts = (
        tallies.tallied(min(starts.values())).filter(period_start__lt=now)
        .order_by()
        .values("mrd_id")
        .annotate(**{f.key: Sum("count", filter=moves_q(f.moves) & Q(period_start__gte=starts[f.key]), default=0)
                     for f in figures})
    )  # fmt: skip
    for item in counts:
        row = rows[bucket(item["mrd_id"])]
        for key in MOVE_COUNTS:
            row[key] += item[key]


def _answers_in_threshold(rows: dict[Bucket, Row], bucket, now: datetime) -> None:
    """Answers whose wait since the contact's last entry into the queue was within its MRD's threshold (tallied
    as they happened: `tallies.record`)."""
    figure = BY_KEY["answered_in_threshold"]
    answers = (
        tallies.tallied(tallies.minute_of(figure.window.start(now))).filter(moves_q(figure.moves), in_threshold=True,
                                                                              period_start__lt=now)
        .order_by()
        .values("mrd_id")
        .annotate(n=Sum("count"))
    )  # fmt: skip
    for item in answers:
        rows[bucket(item["mrd_id"])]["answered_in_threshold"] += item["n"]


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

