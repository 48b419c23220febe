"""The contact lifecycle (spec §1–§3): `create()`, `transition()` and `transition_many()`, the only code
that moves a contact.

The table it enforces (states, reasons, the moves of spec §3, the derived sets of positions) is
`contacts.core.positions`, re-exported here: callers write `lifecycle.transition(...)`,
`lifecycle.Reason.NO_SCRIPT`, `from contacts.core.lifecycle import WAITING_REASONS`.

A move is a compare-and-set on the (state, reason) pair the caller read, so when two actors race
(a cancel and the router, two workers with the same message) exactly one wins; the `Transition` row
is written in the same transaction, and the after-commit hooks (the live broadcast, follow-up tasks),
which the packages above register with `register_after_commit` when the app is ready, run only after
commit. The core never imports them. `transition_many()` moves a batch read at one pair with one
compare-and-set statement, still one `Transition` per moved contact, and runs the hooks once per batch.
Recorders (`register_recorder`, the figures' rollups) run inside the moving transaction instead, so what
they write commits with the move or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from contacts.core.models import Contact, Transition

from .positions import (  # noqa: F401 - the table, re-exported as the lifecycle's vocabulary
    BOTH,
    CANCEL_REQUESTED,
    CANCEL_SUCCEEDED,
    CB_CANCELLING,
    CB_QUEUED,
    DISCARD_REASONS,
    ERROR,
    FINAL_STATES,
    IN_PLAY_STATES,
    IN_QUEUE_REASONS,
    MOVE_ROWS,
    MOVES,
    NEW,
    NOT_ADMISSIONS,
    TASK_CANCELLING,
    TASK_QUEUED,
    TASK_RENOTIFYING,
    TASK_RESERVED,
    UNREAD,
    WAITING_REASONS,
    DiscardReason,
    Kind,
    Pair,
    Reason,
    Source,
    State,
    error_reasons,
    is_final,
    rule_for,
)

if TYPE_CHECKING:
    from contacts.core.models import Feed

log = logging.getLogger(__name__)


class TransitionRefused(Exception):
    """A move that did not happen; `actual` is the pair the contact has."""

    def __init__(self, contact: Contact, from_pair: Pair, to_pair: Pair, actual: Pair | None) -> None:
        self.contact_id = contact.pk
        self.from_pair, self.to_pair, self.actual = from_pair, to_pair, actual
        super().__init__(self.describe())

    def describe(self) -> str:
        return f"contact {self.contact_id}: {self.from_pair} → {self.to_pair} refused"


class IllegalTransition(TransitionRefused):
    """The table of spec §3 does not list this move for the contact's kind."""

    def describe(self) -> str:
        return f"{super().describe()}: the lifecycle table does not list this move"


class TransitionConflict(TransitionRefused):
    """The contact left `from_pair` before this move could start from it: another move won."""

    def describe(self) -> str:
        return f"{super().describe()}: the contact is now at {self.actual} (another move won)"


# Fields a move may set alongside the pair; state and reason only ever change here.
_MOVABLE_FIELDS = frozenset(
    {
        "estimated_wait",
        "cce_task_id",
        "agent_id",
        "cce_mrd_id",
        "cce_script_selector",
        "script_selector",
        "attempt",
        "due_at",
    }
)

AfterCommit = Callable[["Transition"], None]
AfterCommitBatch = Callable[[list["Transition"]], None]


@dataclass(frozen=True)
class Moved:
    """One move as recorders see it: its row, the contact after it, and the contact's group before it."""

    row: Transition
    contact: Contact
    mrd_before: int | None
    selector_before: str


Recorder = Callable[[list[Moved]], None]


def create(
    kind: str,
    feed: Feed,
    *,
    source: str = Source.API,
    user=None,
    then: Iterable[AfterCommit] = (),
    **fields,
) -> Contact:
    """Record a new contact at (unread, —) — rule C1/T1 — with its first `Transition`."""
    rule = rule_for(kind, NEW, UNREAD)
    with transaction.atomic():
        contact = Contact.objects.create(kind=kind, feed=feed, state=UNREAD.state, reason=UNREAD.reason, **fields)
        row = Transition.objects.create(
            contact=contact,
            rule=rule,
            from_state="",
            from_reason="",
            to_state=UNREAD.state,
            to_reason=UNREAD.reason,
            source=source,
            user=user if user and user.is_authenticated else None,
        )
        _record([Moved(row, contact, contact.cce_mrd_id, contact.cce_script_selector)])
        _after_commit(row, then)
    return contact


def transition(
    contact: Contact,
    state: str,
    reason: str = Reason.NONE,
    *,
    source: str,
    user=None,
    comment: str = "",
    changes: dict | None = None,
    then: Iterable[AfterCommit] = (),
) -> Transition | None:
    """Move `contact` from the pair it was read at to (state, reason).

    Returns the new `Transition`, or None for a no-op (the contact already has that pair,
    also when a concurrent actor just made the very same move). Raises `IllegalTransition`
    for a move the table does not list and `TransitionConflict` when another move changed
    the contact first; neither changes anything, and neither should be retried.
    `changes` sets other fields in the same UPDATE; `then` runs after commit.
    """
    from_pair = Pair(contact.state, contact.reason)
    to_pair = Pair(state, reason)
    if from_pair == to_pair:
        return None
    changes = dict(changes or {})
    rule = _allowed_rule(contact, from_pair, to_pair, changes)
    now = timezone.now()
    changes.update(_queue_entry(to_pair, now))
    with transaction.atomic():
        # The compare-and-set: the WHERE on the pair we read is what makes a race have one winner.
        won = Contact.objects.filter(pk=contact.pk, state=from_pair.state, reason=from_pair.reason).update(
            state=to_pair.state, reason=to_pair.reason, updated_at=now, **changes
        )
        if not won:
            _lost_race(contact, from_pair, to_pair)
            return None
        row = _transition_row(contact, rule, from_pair, to_pair, source, user, comment, now)
        row.save(force_insert=True)
        # Before the block ends: outside an outer transaction, the hooks run at its exit
        # and must see the contact as committed.
        before = (contact.cce_mrd_id, contact.cce_script_selector)
        contact.state, contact.reason, contact.updated_at = to_pair.state, to_pair.reason, now
        for name, value in changes.items():
            setattr(contact, name, value)
        _record([Moved(row, contact, *before)])
        _after_commit(row, then)
    return row


def transition_many(
    contacts: Sequence[Contact],
    state: str,
    reason: str = Reason.NONE,
    *,
    source: str,
    user=None,
    comment: str = "",
    changes: dict | None = None,
    each: dict[int, dict] | None = None,
    then: Iterable[AfterCommit] = (),
) -> list[Transition]:
    """Move every contact of `contacts` that is still at the pair it was read at to (state, reason), in one statement.

    All of `contacts` must have been read at one pair. The move is one compare-and-set for the batch
    (`UPDATE … WHERE id IN … AND state = … AND reason = … RETURNING id`): a contact another writer moved
    first is simply not in the result, never an error. Each moved contact gets its own `Transition`, as
    with `transition()` (DESIGN invariant 1 holds per contact), and the in-memory objects of the moved
    contacts are updated. `changes` sets fields on every moved contact, `each` (contact id → fields) on
    single ones. Contacts moved into a waiting position enter the queue in the order of
    `contacts`. The after-commit hooks run once for the batch (see `register_after_commit`).
    Returns the new rows in the order of `contacts`.
    """
    contacts = list(contacts)
    if not contacts:
        return []
    to_pair = Pair(state, reason)
    from_pairs = {contact.pair for contact in contacts}
    if len(from_pairs) != 1:
        raise ValueError(f"transition_many() moves contacts read at one pair, not {sorted(from_pairs)}")
    from_pair = from_pairs.pop()
    if from_pair == to_pair:
        return []
    changes = dict(changes or {})
    each = each or {}
    rules = {contact.pk: _allowed_rule(contact, from_pair, to_pair, {**changes, **each.get(contact.pk, {})})
             for contact in contacts}
    now = timezone.now()
    if _queue_entry(to_pair, now):
        # They join the queue in the order given (a batch admission gives arrival order), one
        # microsecond apart, so first in first out (by queue_entered_at, then id) keeps that order.
        each = {contact.pk: {**each.get(contact.pk, {}), "queue_entered_at": now + timedelta(microseconds=place)}
                for place, contact in enumerate(contacts)}
    by_id = {contact.pk: contact for contact in contacts}
    with transaction.atomic():
        moved = _compare_and_set_many(list(by_id), from_pair, to_pair, now, changes, each)
        winners = [contact for contact in contacts if contact.pk in moved]
        rows = Transition.objects.bulk_create(
            _transition_row(contact, rules[contact.pk], from_pair, to_pair, source, user, comment, now)
            for contact in winners
        )
        before = {contact.pk: (contact.cce_mrd_id, contact.cce_script_selector) for contact in winners}
        for contact in winners:
            contact.state, contact.reason, contact.updated_at = to_pair.state, to_pair.reason, now
            for name, value in {**changes, **each.get(contact.pk, {})}.items():
                setattr(contact, name, value)
        if rows:
            _record([Moved(row, contact, *before[contact.pk]) for row, contact in zip(rows, winners, strict=True)])
            _after_commit_batch(rows, then)
    return rows


def _transition_row(contact: Contact, rule: str, from_pair: Pair, to_pair: Pair, source: str, user, comment: str,
                    now) -> Transition:
    """The unsaved `Transition` that records one move (the user only if signed in)."""
    return Transition(
        contact=contact,
        rule=rule,
        from_state=from_pair.state,
        from_reason=from_pair.reason,
        to_state=to_pair.state,
        to_reason=to_pair.reason,
        source=source,
        user=user if user and user.is_authenticated else None,
        comment=comment,
        created_at=now,
    )


def _compare_and_set_many(
    ids: list[int], from_pair: Pair, to_pair: Pair, now, changes: dict, each: dict[int, dict]
) -> set[int]:
    """The batch's one UPDATE; returns the ids it moved. On PostgreSQL the rows are locked in id order first,
    so two batches that share contacts wait for each other instead of deadlocking, and a row another writer
    moved while we waited no longer matches the pair (the lock re-reads it)."""
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    meta = Contact._meta
    table = quote(meta.db_table)

    def prep(name: str, value):
        return meta.get_field(name).get_db_prep_save(value, connection)

    assignments = [f"{quote('state')} = %s", f"{quote('reason')} = %s", f"{quote('updated_at')} = %s"]
    params: list = [to_pair.state, to_pair.reason, prep("updated_at", now)]
    for name, value in changes.items():
        assignments.append(f"{quote(meta.get_field(name).column)} = %s")
        params.append(prep(name, value))
    for name in sorted({name for fields in each.values() for name in fields} - set(changes)):
        column = quote(meta.get_field(name).column)
        cases = [(pk, fields[name]) for pk, fields in each.items() if name in fields]
        assignments.append(f"{column} = CASE {table}.{quote('id')} " + " ".join("WHEN %s THEN %s" for _ in cases)
                           + f" ELSE {column} END")
        for pk, value in cases:
            params += [pk, prep(name, value)]
    placeholders = ", ".join(["%s"] * len(ids))
    match = f"{quote('id')} IN ({placeholders}) AND {quote('state')} = %s AND {quote('reason')} = %s"
    match_params = [*ids, from_pair.state, from_pair.reason]
    if connection.vendor == "postgresql":
        key = f"{table}.{quote('id')}"
        sql = (
            f"WITH picked AS (SELECT {quote('id')} FROM {table} WHERE {match} ORDER BY {quote('id')} FOR UPDATE) "
            f"UPDATE {table} SET {', '.join(assignments)} FROM picked WHERE {key} = picked.{quote('id')} "
            f"RETURNING {key}"
        )
        params = [*match_params, *params]
    else:  # SQLite (3.35+): writers are serialised, so the statement's own WHERE is the compare-and-set.
        sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {match} RETURNING {quote('id')}"
        params = [*params, *match_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def _queue_entry(to_pair: Pair, now) -> dict:
    """The field a move into a waiting position sets: when the contact (last) entered its MRD's queue."""
    if to_pair.state == State.QUEUED and to_pair.reason in WAITING_REASONS:
        return {"queue_entered_at": now}
    return {}


def _allowed_rule(contact: Contact, from_pair: Pair, to_pair: Pair, changes: dict) -> str:
    """The table's rule for the move, or IllegalTransition; ValueError for fields a move may not set."""
    rule = rule_for(contact.kind, from_pair, to_pair)
    if rule is None:
        raise IllegalTransition(contact, from_pair, to_pair, from_pair)
    unknown = set(changes) - _MOVABLE_FIELDS
    if unknown:
        raise ValueError(f"transition() cannot set {sorted(unknown)}")
    return rule


def _lost_race(contact: Contact, from_pair: Pair, to_pair: Pair) -> None:
    """The compare-and-set matched nothing: a no-op if the winner made this very move, else a conflict."""
    actual = Contact.objects.filter(pk=contact.pk).values_list("state", "reason").first()
    actual_pair = Pair(*actual) if actual else None
    if actual_pair != to_pair:
        raise TransitionConflict(contact, from_pair, to_pair, actual_pair)
    contact.refresh_from_db()


# Run inside the transaction of every move, in registration order (the figures' rollups): what they write
# commits with the move. Registered when the app is ready, as the after-commit hooks are.
_recorders: list[Recorder] = []


def register_recorder(recorder: Recorder) -> None:
    """Call `recorder(moves)` inside the moving transaction of every move from now on (idempotent).

    A recorder that raises rolls the move back: keep it to a write or two per batch.
    """
    if recorder not in _recorders:
        _recorders.append(recorder)


def _record(moves: list[Moved]) -> None:
    for recorder in _recorders:
        recorder(moves)


# Run after every committed move, in registration order; the packages above the core add theirs
# when the app is ready (contacts.apps), so the core never imports them. Each is (hook, batch hook).
_after_commit_hooks: list[tuple[AfterCommit, AfterCommitBatch | None]] = []


def register_after_commit(hook: AfterCommit, *, batch: AfterCommitBatch | None = None) -> None:
    """Call `hook(transition)` after the commit of every move from now on (idempotent per hook).

    After a `transition_many()` batch, `batch(transitions)` is called once instead, if given (so a
    hook can do once what the batch's moves share, such as routing their MRD); else `hook` per row.
    """
    if all(registered != hook for registered, _ in _after_commit_hooks):
        _after_commit_hooks.append((hook, batch))


def _after_commit(row: Transition, then: Iterable[AfterCommit]) -> None:
    callbacks = [*(hook for hook, _ in _after_commit_hooks), *then]

    def run() -> None:
        for callback in callbacks:
            try:
                callback(row)
            except Exception:
                # The move is committed and the database is the truth; a failed hint
                # (broadcast, enqueue) is recovered by the resync and the reconciler.
                log.exception("after-commit hook %r failed for transition %s", callback, row.pk)

    transaction.on_commit(run)


def _after_commit_batch(rows: list[Transition], then: Iterable[AfterCommit]) -> None:
    hooks = [*_after_commit_hooks, *((callback, None) for callback in then)]

    def run() -> None:
        for hook, batch in hooks:
            calls = [(batch, rows)] if batch is not None else [(hook, row) for row in rows]
            for callback, argument in calls:
                try:
                    callback(argument)
                except Exception:
                    # As for one move: the batch is committed; a lost hint is recovered as there.
                    log.exception("after-commit hook %r failed after transitions from %s", callback, rows[0].pk)

    transaction.on_commit(run)
