"""The figure catalogue: every figure ccpdash shows or exports, as data — what it counts, its window, zone, formula.

A figure counts contacts at positions (a set of (state, reason) pairs of the move table, read now), or
moves between positions (`Transition` rows in a window), or is derived from other figures by a formula.
The sets of positions come from `contacts.core.lifecycle`'s derived sets, and the rules a figure counts are
derived from its move table, so a figure can never name a position the table does not have.
`contacts.figures.compute` computes exactly these; a page, a toast, the CSV export or a metric that shows
a figure takes its key, label, unit and window from here and spells none of them again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from contacts.core.formats import midnight
from contacts.core.lifecycle import CANCEL_SUCCEEDED, IN_QUEUE_REASONS, MOVES, UNREAD, WAITING_REASONS, Pair, State

# The setting that names the contact center's time zone: "today" starts at its midnight, times show in it.
ZONE = "TIME_ZONE"

# The rows `compute.queue_figures` returns besides one per configured MRD (its id).
TOTAL = "total"
# Contacts with no MRD of the configuration: not submitted yet (unread), rejected before the CCE knew an MRD
# (an unknown script selector, the rate limit), or carrying an MRD id the configuration lacks (a callback
# feed's notification naming MRD 9999, an MRD deleted since). One bucket, never a row per unknown id.
UNKNOWN_MRD = "unknown"


@dataclass(frozen=True)
class Window:
    """The time a figure covers: `start(now)` to `now`. "now" figures read the positions at that moment."""

    key: str
    label: str
    start: Callable[[datetime], datetime]


NOW = Window("now", "now", lambda now: now)
TODAY = Window("today", "today, since midnight", midnight)


def _all_pairs() -> frozenset[Pair]:
    return frozenset(pair for moves in MOVES.values() for move in moves for pair in move if pair is not None)


# Every position of the move table (both kinds).
PAIRS = _all_pairs()


def positions(state: str, reasons: Iterable[str] | None = None) -> frozenset[Pair]:
    """The table's positions with `state` (and one of `reasons`, if given)."""
    wanted = None if reasons is None else frozenset(reasons)
    return frozenset(pair for pair in PAIRS if pair.state == state and (wanted is None or pair.reason in wanted))


# (queued, EXTERNALLY_ROUTED / EXTERNALLY_HANDLED): in the MRD's queue, waiting for an agent.
WAITING = positions(State.QUEUED, WAITING_REASONS)
# The MRD's queue: the waiting and those whose cancel is in flight (they may still be routed: C7, T8).
IN_QUEUE = positions(State.QUEUED, IN_QUEUE_REASONS)
OUT_OF_QUEUE = PAIRS - IN_QUEUE
# With an agent: a task reserved, a callback handled (its agent will call).
WITH_AGENT = positions(State.RESERVED) | positions(State.HANDLED)
CANCELLED = positions(State.DISCARDED, CANCEL_SUCCEEDED)
DISCARDED_ERROR = positions(State.DISCARDED) - CANCELLED
BACKLOG = frozenset({UNREAD})


@dataclass(frozen=True)
class Moves:
    """Moves of the table from one of `sources` (None: from anywhere) to one of `targets`."""

    targets: frozenset[Pair]
    sources: frozenset[Pair] | None = None

    @property
    def rules(self) -> frozenset[str]:
        """The rules of the table (C3, T7, ...) with at least one such move."""
        return frozenset(
            rule
            for moves in MOVES.values()
            for (source, target), rule in moves.items()
            if target in self.targets and (self.sources is None or source in self.sources)
        )


HANDLED_MOVES = Moves(positions(State.HANDLED))
DISCARDED_MOVES = Moves(DISCARDED_ERROR)
CANCELLED_MOVES = Moves(CANCELLED)
ANSWERED_MOVES = Moves(WITH_AGENT, sources=IN_QUEUE)
LEFT_QUEUE_MOVES = Moves(OUT_OF_QUEUE, sources=IN_QUEUE)
# Entering the queue to wait (C2, T2, T10): a wait counts from the latest of these.
QUEUE_ENTRIES = Moves(WAITING)


@dataclass(frozen=True)
class Figure:
    """One figure: a count of `positions` now, a count of `moves` in its window, or a `formula` of others."""

    key: str
    label: str
    unit: str
    counts: str
    window: Window
    total: str  # how the total row is formed from the MRDs' rows
    zone: str = ZONE
    formula: str = ""
    per_mrd: bool = True  # False: one figure for the whole contact center, in the total row only
    positions: frozenset[Pair] | None = None
    moves: Moves | None = None
    companion: str = ""  # a key of the row that goes with it (the contact behind the longest wait)


FIGURES: tuple[Figure, ...] = (
    Figure(
        "waiting", "Contacts waiting", "contacts",
        "Contacts in the MRD's queue waiting for an agent: at (queued, EXTERNALLY_ROUTED) or (queued, "
        "EXTERNALLY_HANDLED) — WAITING_REASONS. A contact whose cancel is in flight (queued, …CANCEL_REQUESTED) "
        "is not waiting: its customer asked to leave (routing may still win, C7/T8). A renotifying task "
        "(queued, TASK_RENOTIFY_REQUESTED) is not in the queue: it is being resubmitted.",
        NOW, "sum", positions=WAITING,
    ),
    Figure(
        "longest_wait", "Longest wait", "seconds",
        "Of the waiting contacts, the one that has waited longest since it last entered the queue: the "
        "latest Transition into a waiting position (C2, T2, T10), not its creation, so a renotified task "
        "(T9 then T10) waits from its re-entry. None when nobody waits; linked to that contact.",
        NOW, "max", formula="now − the time the oldest waiting contact last entered the queue",
        positions=WAITING, moves=QUEUE_ENTRIES, companion="longest_wait_contact",
    ),
    Figure(
        "handled", "Handled", "contacts",
        "Moves into handled: a callback whose agent was selected (C3, or C7 when routing beat its cancel), a "
        "task its agent completed (T4).",
        TODAY, "sum", moves=HANDLED_MOVES,
    ),
    Figure(
        "discarded", "Discarded", "contacts",
        "Moves into discarded with an error code (every discard code but the two CANCEL_SUCCEEDED ones: C4, "
        "T5, T11). Cancels are not discards (see cancelled). Counted per move: a task discarded, renotified "
        "and discarded again counts twice.",
        TODAY, "sum", moves=DISCARDED_MOVES,
    ),
    Figure(
        "cancelled", "Cancelled", "contacts",
        "Moves into discarded with a cancel-succeeded code (C6, T7): the CCE removed the contact from the "
        "queue at its client's request. A cancel that routing beat (C7, T8) is answered, not cancelled.",
        TODAY, "sum", moves=CANCELLED_MOVES,
    ),
    Figure(
        "left_queue", "Left the queue", "contacts",
        "Moves out of the MRD's queue (from a queue position, a cancel in flight included) to anywhere else: "
        "answered (C3, C7, T3, T8), cancelled (C6, T7), discarded from the queue (C4, T5: released, "
        "connection lost, failover) and a queued task renotified (T9: it joins the queue again at the back, "
        "T10, and that stay counts again when it ends). A cancel requested (C5, T6) stays in the queue.",
        TODAY, "sum", moves=LEFT_QUEUE_MOVES,
    ),
    Figure(
        "answered_in_threshold", "Answered within threshold", "contacts",
        "Answers (moves from the queue to an agent: C3, C7, T3, T8) whose wait — the answer's time minus the "
        "contact's latest entry into the queue before it (C2, T2, T10) — is at most the MRD's service level "
        "threshold (`service_level_seconds`, set per MRD in the admin, default 20 s) in force when it was "
        "answered.",
        TODAY, "sum (each MRD against its own threshold)",
        formula="count of answers with answered_at − last queued_at ≤ MRD.service_level_seconds",
        moves=ANSWERED_MOVES,
    ),
    Figure(
        "service_level", "Service level", "ratio",
        "The share of the contacts that left the queue that were answered within the MRD's threshold. "
        "Cancels and discards from the queue count against it however soon they left; contacts still "
        "waiting do not count yet. None when nothing left the queue.",
        TODAY, "Σ answered_in_threshold ÷ Σ left_queue",
        formula="answered_in_threshold ÷ left_queue (0 to 1; None when left_queue is 0)",
    ),
    Figure(
        "estimated_wait", "Estimated wait", "seconds",
        "What spec §7 would tell a contact joining the MRD's queue now, with the function the mock CCE uses "
        "(contacts.cce.decisions.estimate_wait). Not the estimate stored on each contact when it was queued.",
        NOW, "the highest known (≥ 0) estimate of the MRDs; -1 if none is known",
        formula="a = contacts in the queue (cancels in flight included, as decide() counts them), s = slots of "
        "the ready agents, free = free_slots, h = mean of (handle_time_min + handle_time_max) ÷ 2 over the "
        "ready agents × CCE_HANDLE_TIME_SCALE: -1 without a ready agent, 0 if a < free, else "
        "ceil((a − free + 1) × h ÷ s)",
    ),
    Figure(
        "ready_agents", "Ready agents", "agents",
        "The MRD's agents marked ready (they take new contacts; one not ready keeps what it holds).",
        NOW, "sum", formula="count of the MRD's agents with ready = True",
    ),
    Figure(
        "free_slots", "Free slots", "slots",
        "Over the MRD's ready agents, each one's max_concurrent minus its open assignments (AgentAssignment "
        "without released_at), never below 0 per agent: the slots routing can hand out now. Slots that agents "
        "who are not ready still hold are nobody's free slots.",
        NOW, "sum", formula="Σ over ready agents of max(0, max_concurrent − open assignments)",
    ),
    Figure(
        "backlog", "Throttle backlog", "contacts",
        "Contacts at (unread, —): accepted by the API and waiting for the throttle to admit them to the CCE, "
        "in arrival order (contacts.cce.throttle.backlog). They have no MRD yet, so the figure is the contact "
        "center's, in the total row only.",
        NOW, "the one figure", per_mrd=False, positions=BACKLOG,
    ),
)

BY_KEY: dict[str, Figure] = {figure.key: figure for figure in FIGURES}
PER_MRD_KEYS: tuple[str, ...] = tuple(figure.key for figure in FIGURES if figure.per_mrd)


def window_text(figure: Figure) -> str:
    """Its window with the zone named, e.g. "today, since midnight in Europe/Berlin (TIME_ZONE)"."""
    return f"{figure.window.label} in {zone_name(figure)} ({figure.zone})"


def zone_name(figure: Figure) -> str:
    """The IANA name the figure's zone setting holds now (tests override it)."""
    return getattr(settings, figure.zone)
