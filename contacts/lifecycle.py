"""The contact lifecycle of the contract (spec §1–§3) as data, and the only code that moves a contact.

Every state change in ccpdash goes through `create()` or `transition()`. A move is a
compare-and-set on the (state, reason) pair the caller read, so when two actors race
(a cancel and the router, two workers with the same message) exactly one wins; the
`Transition` row is written in the same transaction, and side effects (the live
broadcast, follow-up tasks) run only after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from django.db import models, transaction
from django.utils import timezone

if TYPE_CHECKING:
    from .models import Contact, Feed, Transition

log = logging.getLogger(__name__)


class Kind(models.TextChoices):
    CALLBACK = "callback", "Callback"
    TASK = "task", "Task"


class State(models.TextChoices):
    UNREAD = "unread", "unread"
    QUEUED = "queued", "queued"
    RESERVED = "reserved", "reserved"
    HANDLED = "handled", "handled"
    DISCARDED = "discarded", "discarded"


class Reason(models.TextChoices):
    NONE = "", "—"
    EXTERNALLY_HANDLED = "EXTERNALLY_HANDLED"
    EXTERNALLY_ROUTED = "EXTERNALLY_ROUTED"
    TASK_RENOTIFY_REQUESTED = "TASK_RENOTIFY_REQUESTED"
    INVALID_NEW_TASK_MESSAGE = "NOTIFICATION_INVALID_NEW_TASK_MESSAGE"
    MEDIA_ROUTING_DISABLED = "NOTIFICATION_MEDIA_ROUTING_DISABLED"
    NO_SCRIPT = "NOTIFICATION_NO_SCRIPT"
    INVALID_MRD_ID = "NOTIFICATION_INVALID_MRD_ID"
    INVALID_SCRIPT_SELECTOR = "NOTIFICATION_INVALID_SCRIPT_SELECTOR"
    ROUTER_RELEASED_TASK = "NOTIFICATION_ROUTER_RELEASED_TASK"
    UNKNOWN_ERROR = "NOTIFICATION_UNKNOWN_ERROR"
    CCE_CONNECTION_FAILURE = "NOTIFICATION_CCE_CONNECTION_FAILURE"
    CCE_CCP_FAILOVER = "NOTIFICATION_CCE_CCP_FAILOVER"
    INVALID_FIELD_LENGTH = "NOTIFICATION_INVALID_FIELD_LENGTH"
    RATE_LIMITED = "NOTIFICATION_RATE_LIMITED"
    CALLBACK_CANCEL_SUCCEEDED = "NOTIFICATION_CCE_CALLBACK_CANCEL_SUCCEEDED"
    TASK_CANCEL_SUCCEEDED = "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED"
    CALLBACK_CANCEL_REQUESTED = "NOTIFICATION_CCE_CALLBACK_CANCEL_REQUESTED"
    TASK_CANCEL_REQUESTED = "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED"


class Source(models.TextChoices):
    """Who asked for a move; recorded on every `Transition`."""

    API = "api", "API"
    WORKER = "worker", "worker"
    CCE = "cce", "CCE"
    DASHBOARD = "dashboard", "dashboard"
    ADMIN = "admin", "admin"
    SYSTEM = "system", "system"


class Pair(NamedTuple):
    """A contact's position: (state, reason)."""

    state: str
    reason: str

    def __str__(self) -> str:
        return f"({self.state}, {self.reason or '—'})"


@dataclass(frozen=True)
class DiscardReason:
    """A discard code of spec §2: which kinds it applies to, its cause and the fix we show."""

    kinds: frozenset[str]
    cause: str
    fix: str


BOTH = frozenset({Kind.CALLBACK, Kind.TASK})

DISCARD_REASONS: dict[str, DiscardReason] = {
    Reason.INVALID_NEW_TASK_MESSAGE: DiscardReason(
        BOTH,
        "The route request built from the contact is malformed: a mediaType outside chat, email, "
        "event, mobile, social, video, voice, web, or a user_ variable whose ECC name does not "
        "start with 'user.'.",
        "Correct the request.",
    ),
    Reason.MEDIA_ROUTING_DISABLED: DiscardReason(
        BOTH,
        "Routing is disabled for the media routing domain (MRD).",
        "Enable routing on the MRD.",
    ),
    Reason.NO_SCRIPT: DiscardReason(
        BOTH,
        "The dialed number / script selector exists but no routing script is bound to it.",
        "Bind a routing script.",
    ),
    Reason.INVALID_MRD_ID: DiscardReason(
        frozenset({Kind.CALLBACK}),
        "The MRD ID configured in the feed's CCE notification does not exist in CCE.",
        "Create the MRD or fix the notification.",
    ),
    Reason.INVALID_SCRIPT_SELECTOR: DiscardReason(
        BOTH,
        "The dialed number / script selector does not exist in CCE.",
        "Create it or fix the request/notification.",
    ),
    Reason.ROUTER_RELEASED_TASK: DiscardReason(
        BOTH,
        "The router dropped the request: its script says release, the MRD's queue is at its "
        "maximum, or it waited longer than the MRD's task life.",
        "Review the script or the MRD limits.",
    ),
    Reason.UNKNOWN_ERROR: DiscardReason(
        BOTH, "Unknown routing problem.", "Inspect the CCE; retry."
    ),
    Reason.CCE_CONNECTION_FAILURE: DiscardReason(
        BOTH,
        "The connection to CCE (MR PG) is lost or was never established.",
        "Restore the connection.",
    ),
    Reason.CCE_CCP_FAILOVER: DiscardReason(
        BOTH,
        "CCP failed or restarted while the contact was queued (tasks with requeueOnRecovery=true "
        "are renotified instead).",
        "Resubmit.",
    ),
    Reason.INVALID_FIELD_LENGTH: DiscardReason(
        BOTH,
        "A value passed the API but exceeds a CCE field limit.",
        "Shorten the value.",
    ),
    Reason.RATE_LIMITED: DiscardReason(
        BOTH,
        "More contacts than the allowed rate and the throttle backlog is full.",
        "Slow the sender or raise the limit.",
    ),
    Reason.CALLBACK_CANCEL_SUCCEEDED: DiscardReason(
        frozenset({Kind.CALLBACK}), "Cancel completed.", "—"
    ),
    Reason.TASK_CANCEL_SUCCEEDED: DiscardReason(frozenset({Kind.TASK}), "Cancel completed.", "—"),
}

CANCEL_SUCCEEDED = frozenset({Reason.CALLBACK_CANCEL_SUCCEEDED, Reason.TASK_CANCEL_SUCCEEDED})


def error_reasons(kind: str) -> frozenset[str]:
    """The "error" of the move table: every discard code of the kind except cancel-succeeded."""
    return frozenset(
        code for code, info in DISCARD_REASONS.items() if kind in info.kinds and code not in CANCEL_SUCCEEDED
    )


NEW = None  # the "from" of a create: the contact does not exist yet
ERROR = "error"  # stands for error_reasons(kind) in the rows below

UNREAD = Pair(State.UNREAD, Reason.NONE)
CB_QUEUED = Pair(State.QUEUED, Reason.EXTERNALLY_HANDLED)
CB_CANCELLING = Pair(State.QUEUED, Reason.CALLBACK_CANCEL_REQUESTED)
TASK_QUEUED = Pair(State.QUEUED, Reason.EXTERNALLY_ROUTED)
TASK_RENOTIFYING = Pair(State.QUEUED, Reason.TASK_RENOTIFY_REQUESTED)
TASK_CANCELLING = Pair(State.QUEUED, Reason.TASK_CANCEL_REQUESTED)
TASK_RESERVED = Pair(State.RESERVED, Reason.EXTERNALLY_ROUTED)

# The whole move table of spec §3: (rule, kind, from pairs, to pair or ERROR).
MOVE_ROWS: tuple[tuple[str, str, tuple, Pair | str], ...] = (
    ("C1", Kind.CALLBACK, (NEW,), UNREAD),
    ("C2", Kind.CALLBACK, (UNREAD,), CB_QUEUED),
    ("C3", Kind.CALLBACK, (CB_QUEUED,), Pair(State.HANDLED, Reason.EXTERNALLY_HANDLED)),
    ("C4", Kind.CALLBACK, (UNREAD, CB_QUEUED), ERROR),
    ("C5", Kind.CALLBACK, (UNREAD, CB_QUEUED), CB_CANCELLING),
    ("C6", Kind.CALLBACK, (CB_CANCELLING,), Pair(State.DISCARDED, Reason.CALLBACK_CANCEL_SUCCEEDED)),
    ("C7", Kind.CALLBACK, (CB_CANCELLING,), Pair(State.HANDLED, Reason.EXTERNALLY_HANDLED)),
    ("T1", Kind.TASK, (NEW,), UNREAD),
    ("T2", Kind.TASK, (UNREAD,), TASK_QUEUED),
    ("T3", Kind.TASK, (TASK_QUEUED,), TASK_RESERVED),
    ("T4", Kind.TASK, (TASK_RESERVED,), Pair(State.HANDLED, Reason.EXTERNALLY_HANDLED)),
    ("T5", Kind.TASK, (UNREAD, TASK_QUEUED), ERROR),
    ("T6", Kind.TASK, (UNREAD, TASK_QUEUED, TASK_RENOTIFYING), TASK_CANCELLING),
    ("T7", Kind.TASK, (TASK_CANCELLING,), Pair(State.DISCARDED, Reason.TASK_CANCEL_SUCCEEDED)),
    ("T8", Kind.TASK, (TASK_CANCELLING,), TASK_RESERVED),
    ("T9", Kind.TASK, (ERROR, TASK_QUEUED), TASK_RENOTIFYING),
    ("T10", Kind.TASK, (TASK_RENOTIFYING,), TASK_QUEUED),
    ("T11", Kind.TASK, (TASK_RENOTIFYING,), ERROR),
)


def _expand(kind: str, position: Pair | str | None) -> list[Pair | None]:
    if position == ERROR:
        return [Pair(State.DISCARDED, code) for code in sorted(error_reasons(kind))]
    return [position]


def _build_moves() -> dict[str, dict[tuple[Pair | None, Pair], str]]:
    moves: dict[str, dict[tuple[Pair | None, Pair], str]] = {Kind.CALLBACK: {}, Kind.TASK: {}}
    for rule, kind, sources, target in MOVE_ROWS:
        for source in sources:
            for from_pair in _expand(kind, source):
                for to_pair in _expand(kind, target):
                    moves[kind][(from_pair, to_pair)] = rule
    return moves


# kind -> {(from pair or NEW, to pair): rule}
MOVES = _build_moves()


def rule_for(kind: str, from_pair: Pair | None, to_pair: Pair) -> str | None:
    """The rule (e.g. "T7") that allows the move, or None if the table does not list it."""
    return MOVES[kind].get((from_pair, to_pair))


def is_final(kind: str, pair: Pair) -> bool:
    """True where no listed move leaves the pair (handled, cancelled, a discarded callback)."""
    return not any(from_pair == pair for from_pair, _ in MOVES[kind])


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
    from .models import Contact, Transition

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
    from .models import Contact, Transition

    from_pair = Pair(contact.state, contact.reason)
    to_pair = Pair(state, reason)
    if from_pair == to_pair:
        return None
    rule = rule_for(contact.kind, from_pair, to_pair)
    if rule is None:
        raise IllegalTransition(contact, from_pair, to_pair, from_pair)
    changes = dict(changes or {})
    unknown = set(changes) - _MOVABLE_FIELDS
    if unknown:
        raise ValueError(f"transition() cannot set {sorted(unknown)}")

    now = timezone.now()
    with transaction.atomic():
        # The compare-and-set: the WHERE on the pair we read is what makes a race have one winner.
        won = Contact.objects.filter(pk=contact.pk, state=from_pair.state, reason=from_pair.reason).update(
            state=to_pair.state, reason=to_pair.reason, updated_at=now, **changes
        )
        if not won:
            actual = Contact.objects.filter(pk=contact.pk).values_list("state", "reason").first()
            actual_pair = Pair(*actual) if actual else None
            if actual_pair == to_pair:
                contact.refresh_from_db()
                return None
            raise TransitionConflict(contact, from_pair, to_pair, actual_pair)
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


def _after_commit(row: Transition, then: Iterable[AfterCommit]) -> None:
    from . import broadcast, followups

    callbacks = [broadcast.send_transition, followups.after_transition, *then]

    def run() -> None:
        for callback in callbacks:
            try:
                callback(row)
            except Exception:
                # The move is committed and the database is the truth; a failed hint
                # (broadcast, enqueue) is recovered by the resync and the reconciler.
                log.exception("after-commit hook %r failed for transition %s", callback, row.pk)

    transaction.on_commit(run)
