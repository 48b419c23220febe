"""The contact lifecycle (spec §1–§3): `create()` and `transition()`, the only code that moves a contact.

The table it enforces (states, reasons, the moves of spec §3, the derived sets of positions) is
`contacts.core.positions`, re-exported here: callers write `lifecycle.transition(...)`,
`lifecycle.Reason.NO_SCRIPT`, `from contacts.core.lifecycle import WAITING_REASONS`.

A move is a compare-and-set on the (state, reason) pair the caller read, so when two actors race
(a cancel and the router, two workers with the same message) exactly one wins; the `Transition` row
is written in the same transaction, and the after-commit hooks (the live broadcast, follow-up tasks),
which the packages above register with `register_after_commit` when the app is ready, run only after
commit. The core never imports them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
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
    with transaction.atomic():
        # The compare-and-set: the WHERE on the pair we read is what makes a race have one winner.
        won = Contact.objects.filter(pk=contact.pk, state=from_pair.state, reason=from_pair.reason).update(
            state=to_pair.state, reason=to_pair.reason, updated_at=now, **changes
        )
        if not won:
            _lost_race(contact, from_pair, to_pair)
            return None
        row = Transition.objects.create(
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
        # Before the block ends: outside an outer transaction, the hooks run at its exit
        # and must see the contact as committed.
        contact.state, contact.reason, contact.updated_at = to_pair.state, to_pair.reason, now
        for name, value in changes.items():
            setattr(contact, name, value)
        _after_commit(row, then)
    return row


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


# Run after every committed move, in registration order; the packages above the core add theirs
# when the app is ready (contacts.apps), so the core never imports them.
_after_commit_hooks: list[AfterCommit] = []


def register_after_commit(hook: AfterCommit) -> None:
    """Call `hook(transition)` after the commit of every move from now on (idempotent per hook)."""
    if hook not in _after_commit_hooks:
        _after_commit_hooks.append(hook)


def _after_commit(row: Transition, then: Iterable[AfterCommit]) -> None:
    callbacks = [*_after_commit_hooks, *then]

    def run() -> None:
        for callback in callbacks:
            try:
                callback(row)
            except Exception:
                # The move is committed and the database is the truth; a failed hint
                # (broadcast, enqueue) is recovered by the resync and the reconciler.
                log.exception("after-commit hook %r failed for transition %s", callback, row.pk)

    transaction.on_commit(run)
