"""The lifecycle of the contract (spec §1–§3) as data: states, reason codes, the move table, derived positions.

Every other module takes its sets of positions from here (waiting, cancel in flight, finished, ...),
so a position is spelled once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from django.db import models


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


# Each reason code's plain name, which every page, filter, toast and CSV shows (`formats.reason_name`; the
# pages' scripts get it in their live config). The code stays beside the name (a tooltip, a CSV column of
# its own): it is what the CCP API answers and what a CCE engineer searches for; the name is what a
# supervisor reads from across the room. Each name is unique, so a filter can offer names alone. Kept apart
# from the choices so the model fields (and their migrations) do not change.
REASON_NAMES: dict[str, str] = {
    Reason.NONE: "—",
    Reason.EXTERNALLY_HANDLED: "Externally handled",
    Reason.EXTERNALLY_ROUTED: "Externally routed",
    Reason.TASK_RENOTIFY_REQUESTED: "Resubmit requested",
    Reason.INVALID_NEW_TASK_MESSAGE: "Invalid request",
    Reason.MEDIA_ROUTING_DISABLED: "Routing disabled",
    Reason.NO_SCRIPT: "No routing script",
    Reason.INVALID_MRD_ID: "Unknown MRD",
    Reason.INVALID_SCRIPT_SELECTOR: "Unknown script selector",
    Reason.ROUTER_RELEASED_TASK: "Released by the router",
    Reason.UNKNOWN_ERROR: "Unknown routing error",
    Reason.CCE_CONNECTION_FAILURE: "CCE connection lost",
    Reason.CCE_CCP_FAILOVER: "CCP failover",
    Reason.INVALID_FIELD_LENGTH: "Field too long",
    Reason.RATE_LIMITED: "Rate limited",
    Reason.CALLBACK_CANCEL_SUCCEEDED: "Cancelled (callback)",
    Reason.TASK_CANCEL_SUCCEEDED: "Cancelled (task)",
    Reason.CALLBACK_CANCEL_REQUESTED: "Cancel requested (callback)",
    Reason.TASK_CANCEL_REQUESTED: "Cancel requested (task)",
}


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


# --- derived positions: import these instead of spelling the reasons again ----------------------------------

# (queued, one of these) waits for an agent; the time it last entered such a pair is its place in the queue.
WAITING_REASONS = (Reason.EXTERNALLY_ROUTED, Reason.EXTERNALLY_HANDLED)
# (queued, one of these): a cancel is in flight. The contact is still in its MRD's queue and may still be
# routed (C7/T8: routing wins the race). A renotifying task is not in the queue: it is being resubmitted.
CANCEL_REQUESTED = (Reason.CALLBACK_CANCEL_REQUESTED, Reason.TASK_CANCEL_REQUESTED)
IN_QUEUE_REASONS = WAITING_REASONS + CANCEL_REQUESTED
# Moves out of unread that did not admit the contact to the CCE (the throttle does not count them).
NOT_ADMISSIONS = CANCEL_REQUESTED + (Reason.RATE_LIMITED,)
IN_PLAY_STATES = (State.UNREAD, State.QUEUED, State.RESERVED)
FINAL_STATES = (State.HANDLED, State.DISCARDED)

