"""The figures' rollups: every move counted per minute (per quarter of an hour once older) and group.

    record(moves)        the lifecycle's recorder: inside each moving transaction, one delta row per key
    fold(now)            beat: merges each recent period's delta rows into one, minutes older than
                         FOLD_AFTER into their quarter of an hour
    rebuild(start, end)  recounts a span from the `Transition` rows: the migration that introduced the
                         rollups, admin deletes and purges (which bypass the lifecycle), the check
    check(now)           beat: today's rollups against a recount of today's transitions; rebuilds today
                         when they differ
    tallied(start, end)  the rows a figure sums (`contacts.figures.compute`, the overview, the charts)

A move counts in the group (MRD, script selector) its contact has now, as the figures always counted
it: a task renotified onto another selector takes its history along, so `record` moves that contact's
earlier tallies to its new group in the same transaction. Creates (C1/T1) are not tallied: no figure
counts them. An answer (a move from the queue to an agent) is `in_threshold` when its wait since the
contact's latest entry into the queue is within its MRD's service level threshold at the time it was
answered, as contact-center reports judge it: a threshold an admin changes applies to answers from then
on. A rebuild judges the span it recounts against the thresholds in force then, and the check compares
counts without that judgement, so a threshold change alone never makes it rebuild.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncMinute
from django.utils import timezone

from contacts.cce.models import MediaRoutingDomain
from contacts.core.formats import midnight
from contacts.core.lifecycle import UNREAD, Moved, Pair
from contacts.core.models import Transition

from . import catalogue
from .models import MoveTally

log = logging.getLogger(__name__)

# The fields that make a tally's key besides its period.
KEY_FIELDS = ("mrd_id", "script_selector", "from_state", "from_reason", "to_state", "to_reason", "in_threshold")
# Minutes older than this are folded into their quarter of an hour; the charts read the last hour by minute.
FOLD_AFTER = timedelta(minutes=90)
QUARTER = timedelta(minutes=15)
# Each fold merges the delta rows of the last RECENT_SPAN's minutes, and folds into quarters the minutes
# that crossed FOLD_AFTER within the last QUARTER_SPAN (beat may have been down meanwhile). A delta that
# commits later than that stays a row of its own, summed like the others, until a rebuild; the spans are
# short so a fold rewrites a few hundred rows, not hours of them.
RECENT_SPAN = timedelta(minutes=10)
QUARTER_SPAN = timedelta(hours=2)
# A contact with no MRD of the configuration has no threshold of its own: the field's default applies.
DEFAULT_THRESHOLD = MediaRoutingDomain._meta.get_field("service_level_seconds").default
BATCH = 5000

Key = tuple[datetime, int | None, str, str, str, str, str, bool]


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def quarter_of(moment: datetime) -> datetime:
    minute = minute_of(moment)
    return minute.replace(minute=minute.minute - minute.minute % 15)


def is_answer(from_pair, to_pair) -> bool:
    return from_pair in catalogue.IN_QUEUE and to_pair in catalogue.WITH_AGENT


def tallied(start: datetime, end: datetime | None = None) -> QuerySet[MoveTally]:
    """Tally rows of the moves in [start, end) (end: none), `start` a whole minute (or quarter, for older spans)."""
    rows = MoveTally.objects.filter(period_start__gte=start)
    return rows.filter(period_start__lt=end) if end is not None else rows


# --- kept with the moves ---------------------------------------------------------------------------------


def record(moves: list[Moved]) -> None:
    """The lifecycle's recorder: append one row per key for `moves`, in their transaction."""
    counts: Counter[Key] = Counter()
    tallied_moves = [move for move in moves if move.row.from_state]
    if not tallied_moves:
        return
    thresholds = _thresholds() if any(_answers(move.row) for move in tallied_moves) else {}
    for move in tallied_moves:
        row, contact = move.row, move.contact
        group = (contact.cce_mrd_id, contact.cce_script_selector)
        waited = None
        if _answers(row) and contact.queue_entered_at is not None:
            waited = row.created_at - contact.queue_entered_at
        counts[_key(row, group, waited, thresholds)] += 1
        if (move.mrd_before, move.selector_before) != group and row.from_state != UNREAD.state:
            counts.update(_rehomed(row, (move.mrd_before, move.selector_before), group, thresholds))
    _append(counts)


def _answers(row: Transition) -> bool:
    return is_answer(row.from_pair, row.to_pair)


def _key(row: Transition, group: tuple[int | None, str], waited: timedelta | None, thresholds: dict) -> Key:
    in_threshold = waited is not None and waited <= thresholds.get(group[0], timedelta(seconds=DEFAULT_THRESHOLD))
    return (minute_of(row.created_at), group[0], group[1] or "", row.from_state, row.from_reason, row.to_state,
            row.to_reason, in_threshold)


def _rehomed(row: Transition, old: tuple, new: tuple, thresholds: dict) -> Counter[Key]:
    """The contact's earlier tallied moves taken out of its old group and put in its new one."""
    thresholds = thresholds or _thresholds()  # its earlier answers are judged as they were: by their MRD's
    moved: Counter[Key] = Counter()
    entered = None
    for earlier in Transition.objects.filter(contact_id=row.contact_id, id__lt=row.pk).order_by("id"):
        if earlier.to_pair in catalogue.WAITING:
            entered = earlier.created_at
        if not earlier.from_state:
            continue
        waited = earlier.created_at - entered if _answers(earlier) and entered is not None else None
        moved[_key(earlier, old, waited, thresholds)] -= 1
        moved[_key(earlier, new, waited, thresholds)] += 1
    return moved


def _thresholds() -> dict[int, timedelta]:
    return {mrd_id: timedelta(seconds=seconds)
            for mrd_id, seconds in MediaRoutingDomain.objects.values_list("id", "service_level_seconds")}


def _append(counts: Counter[Key], model=MoveTally) -> None:
    model.objects.bulk_create(
        [model(period_start=key[0], **dict(zip(KEY_FIELDS, key[1:], strict=True)), count=count)
         for key, count in counts.items() if count],
        batch_size=BATCH,
    )


# --- folding ---------------------------------------------------------------------------------------------


def fold(now: datetime | None = None) -> None:
    """Merge the delta rows of each recent minute into one row per key, and the minutes that became older than
    FOLD_AFTER into their quarter of an hour."""
    now = now or timezone.now()
    boundary = minute_of(now - FOLD_AFTER)
    _fold_span(quarter_of(boundary - QUARTER_SPAN), boundary, quarters_before=boundary)
    _fold_span(max(boundary, minute_of(now - RECENT_SPAN)), minute_of(now), quarters_before=boundary)


def _fold_span(start: datetime, end: datetime, *, quarters_before: datetime, model=MoveTally) -> None:
    """Rewrite the rows of [start, end) as one per period and key, periods before `quarters_before` by quarter."""
    if connection.vendor == "postgresql":
        table, quote = model._meta.db_table, connection.ops.quote_name
        keys = ", ".join(quote(name) for name in KEY_FIELDS)
        # One statement: it sums exactly the rows it deletes, so a delta committed meanwhile stays as it is.
        sql = (
            f"WITH gone AS (DELETE FROM {quote(table)} WHERE period_start >= %s AND period_start < %s RETURNING *) "
            f"INSERT INTO {quote(table)} (period_start, {keys}, {quote('count')}) "
            "SELECT CASE WHEN period_start < %s THEN date_bin('15 minutes', period_start, TIMESTAMPTZ "
            f"'2000-01-01 00:00:00+00') ELSE period_start END AS period, {keys}, SUM({quote('count')}) FROM gone "
            f"GROUP BY period, {keys} HAVING SUM({quote('count')}) <> 0"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [start, end, quarters_before])
        return
    with transaction.atomic():  # SQLite: writers are serialised, so read, delete and write back
        rows = model.objects.filter(period_start__gte=start, period_start__lt=end)
        sums: Counter[Key] = Counter()
        for item in rows.values("period_start", *KEY_FIELDS, "count"):
            period = item["period_start"]
            period = quarter_of(period) if period < quarters_before else period
            sums[(period, *(item[name] for name in KEY_FIELDS))] += item["count"]
        rows.delete()
        _append(sums, model)


# --- rebuilding and checking -----------------------------------------------------------------------------


def recount(start: datetime | None = None, end: datetime | None = None, *, apps=None,
            quarters_before: datetime | None = None) -> QuerySet:
    """The tally of the transitions in [start, end) by period and key, counted from the `Transition` rows.

    Periods are minutes, and on PostgreSQL quarters of an hour before `quarters_before` (as `fold` leaves
    them). `apps`: a migration's historical app registry (its models), by default the current ones.
    """
    transitions = apps.get_model("contacts", "Transition") if apps else Transition
    moves = transitions.objects.exclude(from_state="")
    if start is not None:
        moves = moves.filter(created_at__gte=start)
    if end is not None:
        moves = moves.filter(created_at__lt=end)
    return (
        moves.annotate(
            period=_period(transitions, quarters_before),
            mrd_id=F("contact__cce_mrd_id"),
            script_selector=F("contact__cce_script_selector"),
            in_threshold=_in_threshold(apps),
        )
        .order_by()
        .values("period", *KEY_FIELDS)
        .annotate(n=Count("id"))
    )


def _period(transitions, quarters_before: datetime | None):
    """SQL: the period a transition's move counts in (its minute; its quarter if before `quarters_before`)."""
    if quarters_before is None or connection.vendor != "postgresql":
        return TruncMinute("created_at", tzinfo=UTC)
    column = f"{connection.ops.quote_name(transitions._meta.db_table)}.{connection.ops.quote_name('created_at')}"
    return RawSQL(
        f"CASE WHEN {column} < %s THEN date_bin('15 minutes', {column}, TIMESTAMPTZ '2000-01-01 00:00:00+00') "
        f"ELSE date_trunc('minute', {column}) END",
        [quarters_before],
        output_field=DateTimeField(),
    )


def _in_threshold(apps=None) -> Case:
    """SQL: the move is an answer whose wait since the contact's latest queue entry before it is within its
    MRD's current threshold (one CASE branch per distinct threshold, a handful)."""
    mrds = apps.get_model("contacts", "MediaRoutingDomain") if apps else MediaRoutingDomain
    transitions = apps.get_model("contacts", "Transition") if apps else Transition
    by_threshold: dict[int, list[int]] = {}
    for mrd_id, seconds in mrds.objects.values_list("id", "service_level_seconds"):
        by_threshold.setdefault(seconds, []).append(mrd_id)
    threshold = Case(
        *[When(contact__cce_mrd_id__in=ids, then=Value(timedelta(seconds=seconds)))
          for seconds, ids in sorted(by_threshold.items())],
        default=Value(timedelta(seconds=DEFAULT_THRESHOLD)),
        output_field=DurationField(),
    )
    entries = transitions.objects.filter(
        pairs_q(catalogue.WAITING, "to_state", "to_reason"), contact=OuterRef("contact_id"), id__lt=OuterRef("id")
    ).order_by("-id").values("created_at")[:1]
    deadline = ExpressionWrapper(Subquery(entries) + threshold, output_field=DateTimeField())
    answers = pairs_q(catalogue.IN_QUEUE, "from_state", "from_reason") & pairs_q(
        catalogue.WITH_AGENT, "to_state", "to_reason"
    )
    return Case(When(answers & Q(created_at__lte=deadline), then=Value(True)), default=Value(False),
                output_field=BooleanField())


def pairs_q(pairs: Iterable[Pair], state_field: str = "state", reason_field: str = "reason") -> Q:
    """The positions as a filter, one (state, reason IN ...) term per state, so the pair indexes serve it."""
    by_state: dict[str, set[str]] = {}
    for pair in pairs:
        by_state.setdefault(pair.state, set()).add(pair.reason)
    q = Q(pk__in=[])
    for state, reasons in sorted(by_state.items()):
        q |= Q(**{state_field: state, f"{reason_field}__in": sorted(reasons)})
    return q


def moves_q(moves: catalogue.Moves) -> Q:
    """The moves as a filter on `Transition` or `MoveTally` rows (they name the positions alike)."""
    q = pairs_q(moves.targets, "to_state", "to_reason")
    if moves.sources is not None:
        q &= pairs_q(moves.sources, "from_state", "from_reason")
    return q


def rebuild(start: datetime | None = None, end: datetime | None = None, *, apps=None) -> int:
    """Recount the tallies of [start, end) (None: open) from the transitions; returns the rows written.

    The span is widened to whole quarters of an hour. On PostgreSQL the delete and the recount read one
    snapshot (REPEATABLE READ): a move committed after it keeps its own delta row and is not recounted,
    one committed before is recounted and its delta row deleted, so moves during a rebuild count once.
    `apps`: a migration's historical app registry.
    """
    tallies = apps.get_model("contacts", "MoveTally") if apps else MoveTally
    start = quarter_of(start) if start is not None else None
    end = quarter_of(end) + (QUARTER if quarter_of(end) != end else timedelta()) if end is not None else None
    written = 0
    nested = connection.in_atomic_block
    with transaction.atomic():
        if not nested:  # inside an outer transaction (a migration, a test) its snapshot rules
            _one_snapshot()
        old = tallies.objects.all()
        if start is not None:
            old = old.filter(period_start__gte=start)
        if end is not None:
            old = old.filter(period_start__lt=end)
        old.delete()
        batch: list[MoveTally] = []
        quarters_before = minute_of(timezone.now() - FOLD_AFTER)
        for item in recount(start, end, apps=apps, quarters_before=quarters_before).iterator(chunk_size=BATCH):
            fields = {name: item[name] if item[name] is not None else _blank(name) for name in KEY_FIELDS}
            batch.append(tallies(period_start=item["period"], **fields, count=item["n"]))
            if len(batch) >= BATCH:
                written += len(tallies.objects.bulk_create(batch))
                batch = []
        written += len(tallies.objects.bulk_create(batch))
    if connection.vendor != "postgresql":  # the recount gave minutes only: fold the older ones into quarters
        oldest = tallies.objects.order_by("period_start").values_list("period_start", flat=True).first()
        if oldest is not None:
            _fold_span(quarter_of(oldest), minute_of(timezone.now()), quarters_before=quarters_before, model=tallies)
    return written


def _blank(name: str):
    """What a key field holds when the recount's value is NULL (a contact without MRD or selector)."""
    return None if name == "mrd_id" else False if name == "in_threshold" else ""


def _one_snapshot() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


# The key a check compares: every field but the threshold's judgement (see the module's docstring).
CHECKED_FIELDS = tuple(name for name in KEY_FIELDS if name != "in_threshold")


def differences(start: datetime, end: datetime | None = None) -> dict[tuple, int]:
    """Per key (but `in_threshold`), the tallies of [start, end) minus a recount of its transitions: empty when
    they agree."""
    nested = connection.in_atomic_block
    with transaction.atomic():
        if not nested:
            _one_snapshot()
        kept = {tuple(item[name] for name in CHECKED_FIELDS): item["n"]
                for item in tallied(start, end).order_by().values(*CHECKED_FIELDS).annotate(n=Sum("count"))}
        counted: Counter[tuple] = Counter()
        for item in recount(start, end).order_by():
            key = tuple(item[name] if item[name] is not None else _blank(name) for name in CHECKED_FIELDS)
            counted[key] += item["n"]
    return {key: kept.get(key, 0) - counted.get(key, 0)
            for key in {*kept, *counted} if kept.get(key, 0) != counted.get(key, 0)}


def check(now: datetime | None = None) -> int:
    """Beat: compare today's tallies with a recount; if they differ, log it and rebuild today. Returns the keys
    that differed (0 when all agree)."""
    now = now or timezone.now()
    start = midnight(now)
    differing = differences(start)
    if differing:
        log.warning("move tallies since %s differed from a recount on %s keys (%s); rebuilt", start.isoformat(),
                    len(differing), sorted(differing.items(), key=str)[:5])
        rebuild(start)
    return len(differing)
