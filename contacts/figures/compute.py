"""The catalogue's figures computed from the database: per configured MRD, for contacts outside it, and in total.

`queue_figures(now)` makes the same six queries whatever the number of contacts: each one aggregates in
the database (GROUP BY, a window function), and the Python loops run over MRDs and agents' groups, never
over contacts. "now" figures read the contacts' and agents' positions as they are; windowed figures count
the `Transition` rows in [window start, now]. A move counts in the MRD its contact has now (a task
renotified onto another selector takes its history along): transitions do not record an MRD.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import (
    Avg,
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Greatest, RowNumber
from django.utils import timezone

from contacts.cce import decisions, queues
from contacts.cce.models import Agent, MediaRoutingDomain
from contacts.core.lifecycle import Pair
from contacts.core.models import Contact, Transition

from . import catalogue
from .catalogue import BY_KEY, PER_MRD_KEYS, TOTAL, UNKNOWN_MRD, Moves

Row = dict[str, object]
Bucket = int | str

# Figures that count moves in their window, all in one query.
MOVE_COUNTS = ("handled", "discarded", "cancelled", "left_queue")
# Figures whose total row is the sum of the rows.
SUMMED = (*MOVE_COUNTS, "waiting", "answered_in_threshold", "ready_agents", "free_slots")
# A contact with no MRD of the configuration has no threshold of its own: the field's default applies.
DEFAULT_THRESHOLD = MediaRoutingDomain._meta.get_field("service_level_seconds").default


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
    _answers_in_threshold(rows, bucket, thresholds, now)
    _agents(rows, bucket, in_queue)
    for row in rows.values():
        row["service_level"] = _ratio(row["answered_in_threshold"], row["left_queue"])
    rows[TOTAL] = _total(rows, backlog)
    return rows


def pairs_q(pairs: frozenset[Pair], state_field: str = "state", reason_field: str = "reason") -> Q:
    """The positions as a filter, one (state, reason IN ...) term per state, so the pair indexes serve it."""
    by_state: dict[str, set[str]] = defaultdict(set)
    for pair in pairs:
        by_state[pair.state].add(pair.reason)
    q = Q(pk__in=[])
    for state, reasons in sorted(by_state.items()):
        q |= Q(**{state_field: state, f"{reason_field}__in": sorted(reasons)})
    return q


def moves_q(moves: Moves) -> Q:
    """The moves as a filter on `Transition` rows."""
    q = pairs_q(moves.targets, "to_state", "to_reason")
    if moves.sources is not None:
        q &= pairs_q(moves.sources, "from_state", "from_reason")
    return q


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
    """The MOVE_COUNTS figures, each over its own window, in one grouped query."""
    figures = [BY_KEY[key] for key in MOVE_COUNTS]
    starts = {figure.key: figure.window.start(now) for figure in figures}
    counts = (
        Transition.objects.filter(created_at__gte=min(starts.values()), created_at__lte=now)
        .order_by()
        .values("contact__cce_mrd_id")
        .annotate(**{f.key: Count("id", filter=moves_q(f.moves) & Q(created_at__gte=starts[f.key])) for f in figures})
    )
    for item in counts:
        row = rows[bucket(item["contact__cce_mrd_id"])]
        for key in MOVE_COUNTS:
            row[key] += item[key]


def _answers_in_threshold(rows: dict[Bucket, Row], bucket, thresholds: dict[int, int], now: datetime) -> None:
    """Answers whose wait since the contact's last entry into the queue is within its MRD's threshold."""
    figure = BY_KEY["answered_in_threshold"]
    by_threshold: dict[int, list[int]] = defaultdict(list)
    for mrd_id, seconds in thresholds.items():
        by_threshold[seconds].append(mrd_id)
    # One branch per distinct threshold (a handful), so the query stays the same whatever the MRDs' number.
    branches = sorted(by_threshold.items())
    threshold = Case(
        *[When(contact__cce_mrd_id__in=ids, then=Value(timedelta(seconds=seconds))) for seconds, ids in branches],
        default=Value(timedelta(seconds=DEFAULT_THRESHOLD)),
        output_field=DurationField(),
    )
    answers = (
        Transition.objects.filter(moves_q(figure.moves), created_at__gte=figure.window.start(now), created_at__lte=now)
        .alias(queued_at=_entered_queue(OuterRef("contact_id"), before=OuterRef("id")))
        .alias(deadline=ExpressionWrapper(F("queued_at") + threshold, output_field=DateTimeField()))
        .filter(created_at__lte=F("deadline"))
        .order_by()
        .values("contact__cce_mrd_id")
        .annotate(n=Count("id"))
    )
    for item in answers:
        rows[bucket(item["contact__cce_mrd_id"])]["answered_in_threshold"] += item["n"]


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

