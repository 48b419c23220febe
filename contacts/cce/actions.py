"""The mock CCE's answers to a submission (as the throttle admits it), a cancel and a renotify; the due-event sweep.

A submission first passes the throttle (`contacts.cce.throttle`): one transaction under the settings
row lock admits the oldest unread contacts up to the window's free capacity, and only then asks
`decide()`; with the throttle off, admission takes no global lock (`_admit_unthrottled`). Either way a
batch of contacts is decided with shared reads and moved by one compare-and-set per answer. Each
function takes an id, reloads, re-checks the contact's position and returns early if the work is
done, so a task may run twice (acks_late redelivery, the reconciler) without harm.
Every move is a compare-and-set through `contacts.core.lifecycle`; a refused move is never retried: the
contact keeps the outcome the winner gave it.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contacts.core import lifecycle
from contacts.core.lifecycle import (
    CB_CANCELLING,
    TASK_CANCELLING,
    TASK_RENOTIFYING,
    UNREAD,
    WAITING_REASONS,
    Kind,
    Reason,
    Source,
    State,
    TransitionRefused,
)
from contacts.core.models import Contact, Transition

from . import queues, routing, throttle
from .decisions import Decision, Lookups, decide, target
from .models import AdmissionClaim, CceSettings, MediaRoutingDomain

log = logging.getLogger(__name__)

# Rows acted on per kind of due event in one sweep; the next sweep takes the rest.
SWEEP_BATCH = 200
# Contacts admitted per transaction of a backlog drain (the settings lock is held that long), and
# transactions per drain: one submit task moves at most SUBMIT_BATCH * DRAIN_ROUNDS contacts.
SUBMIT_BATCH = 50
# Batches of due completions one sweep takes at most (SWEEP_BATCH each); a longer line is the next sweep's.
COMPLETION_BATCHES = 10
DRAIN_ROUNDS = 20


def submit(contact_id: int) -> int:
    """Submit `contact_id` by draining the throttle backlog in arrival order; returns the moves made.

    The contact goes when the throttle admits it: now, or later from the reconciler's drain, unless
    a full backlog discards it (RATE_LIMITED). Draining instead of submitting just this contact keeps
    arrival order whichever worker runs first, and makes the task idempotent: once the contact has
    left `unread` (another drain took it) there is nothing to do.
    """
    if not Contact.objects.filter(pk=contact_id, state=UNREAD.state, reason=UNREAD.reason).exists():
        return 0
    return drain_backlog()


def drain_backlog(rounds: int = DRAIN_ROUNDS, budget_seconds: float | None = None) -> int:
    """Admit unread contacts as the throttle allows, a batch per transaction; returns the moves made.

    With `budget_seconds`, no new round starts once that much time has passed (at least one round
    runs): each round commits on its own, so stopping between rounds loses nothing.
    """
    return drain(rounds, budget_seconds)[0]


def drain(rounds: int = DRAIN_ROUNDS, budget_seconds: float | None = None) -> tuple[int, bool]:
    """`drain_backlog`, also saying whether it stopped with more admissible now (rounds or budget used up)."""
    started = time.monotonic()
    moved, more = 0, False
    for _ in range(rounds):
        done, more = _drain_once()
        moved += done
        if not more or (budget_seconds is not None and time.monotonic() - started >= budget_seconds):
            break
    return moved, more


def _drain_once() -> tuple[int, bool]:
    """One admission step (DESIGN invariant 6: before decide()); returns (moves, whether more may be due).

    With the throttle on, counting and claiming are one short step under the settings row lock: it
    claims the oldest unread contacts up to the free capacity and, if that uses the rate up, discards
    the newest unread contacts beyond the backlog size (C4/T5 RATE_LIMITED). The lock makes
    count-then-claim one step across all workers, so the rate holds exactly, in arrival order. The
    claimed contacts are then answered (C2/T2 or C4/T5) outside that lock, oldest claims first
    (`answer_claims`): no worker waits for the settings lock while another decides or waits for an MRD.

    With the throttle off there is nothing to count, so no global lock: `_admit_unthrottled`.
    """
    if not CceSettings.load().throttle_per_minute:
        admitted = _admit_unthrottled(SUBMIT_BATCH)
        return admitted, admitted == SUBMIT_BATCH
    with transaction.atomic():
        cce = throttle.lock_settings()
        free = throttle.free_capacity(cce)
        if free is None:  # turned off since we looked: admit without the lock next time round
            return 0, True
        take = min(free, SUBMIT_BATCH)
        claimed = throttle.claim(take)
        limited = 0
        if free <= take:  # the rate is used up: the backlog keeps the rest, if it can
            limited = _rate_limit(throttle.beyond_backlog(cce.backlog_size, SUBMIT_BATCH))
    admitted = answer_claims(len(claimed)) if claimed else 0
    more = (len(claimed) == SUBMIT_BATCH and free > SUBMIT_BATCH) or limited == SUBMIT_BATCH
    return admitted + limited, more


def answer_claims(limit: int = SUBMIT_BATCH, claimed_before: datetime | None = None) -> int:
    """Decide and move the oldest `limit` claimed contacts (`AdmissionClaim`), deleting their claims; returns the moves.

    Under `throttle.lock_admission_order()`, so batches are answered one at a time, oldest first, and
    contacts enter their queues in arrival order whichever worker claimed them. A claimed contact a
    cancel moved meanwhile is not moved; its claim goes all the same. With `claimed_before`, only
    claims made before then (the reconciler's: those a killed worker left).
    """
    with transaction.atomic():
        throttle.lock_admission_order()
        claims = AdmissionClaim.objects.order_by("contact__created_at", "contact_id")
        if claimed_before is not None:
            claims = claims.filter(claimed_at__lt=claimed_before)
        ids = list(claims.values_list("contact_id", flat=True)[:limit])
        if not ids:
            return 0
        contacts = list(throttle.unread().filter(pk__in=ids).order_by("created_at", "id"))
        moved = _admit(contacts)
        AdmissionClaim.objects.filter(contact_id__in=ids).delete()
    return moved


def _admit_unthrottled(limit: int) -> int:
    """Submit up to `limit` of the oldest unread contacts in one transaction; returns how many moved.

    The batch is the oldest unread contacts no other worker holds (`SKIP LOCKED` on PostgreSQL), so two
    workers drain one backlog side by side, each with batches of its own, and contend only for the
    MRD locks `decide()`'s queue limit needs, once per batch. An admin turning the throttle on
    meanwhile takes effect from the next step.
    """
    with transaction.atomic():
        return _admit(list(throttle.backlog().select_for_update(skip_locked=True)[:limit]))


def _admit(contacts: list[Contact]) -> int:
    """Submit unread `contacts` (in arrival order) in the current transaction: decide each, move them in batches.

    Every MRD they go to is locked first, in id order (routing and other admissions lock them too),
    so no other writer changes those queues until the batch commits; each contact is then decided as
    if submitted alone, in order, with the reads shared (`decisions.Lookups`). The moves are one
    compare-and-set per answer (`lifecycle.transition_many`); a contact a cancel moved first is
    simply not moved. Returns how many moved.
    """
    if not contacts:
        return 0
    lookups = Lookups()
    mrd_ids = sorted({mrd_id for _, mrd_id in (target(contact, lookups) for contact in contacts) if mrd_id is not None})
    # Lock as routing does: two submissions to one MRD never both take the last place under its queue
    # limit, and the estimate counts a queue that routing is not changing.
    list(MediaRoutingDomain.objects.select_for_update().filter(pk__in=mrd_ids).order_by("pk").values_list("pk"))
    answers: dict[tuple[str, str], list[Contact]] = {}
    fields: dict[int, dict] = {}
    for contact in contacts:
        decision = decide(contact, lookups)
        answers.setdefault(_answer(decision), []).append(contact)
        fields[contact.pk] = _fields(decision, lookups)
    moved = 0
    for (state, reason), group in answers.items():
        moved += len(lifecycle.transition_many(
            group, state, reason, source=Source.CCE, each={contact.pk: fields[contact.pk] for contact in group}
        ))
    return moved


def _rate_limit(contacts: list[Contact]) -> int:
    """C4/T5 RATE_LIMITED for unread contacts a full backlog cannot keep; returns how many moved."""
    return len(lifecycle.transition_many(contacts, State.DISCARDED, Reason.RATE_LIMITED, source=Source.CCE))


def resume_renotifies(cutoff: datetime) -> int:
    """Resubmit tasks renotifying since before `cutoff`, whose renotify message was lost (a killed worker)."""
    stale = Contact.objects.filter(
        state=TASK_RENOTIFYING.state, reason=TASK_RENOTIFYING.reason, updated_at__lte=cutoff
    ).order_by("updated_at", "id")
    return sum(renotify(contact_id) is not None for contact_id in stale.values_list("pk", flat=True)[:SWEEP_BATCH])


def renotify(contact_id: int) -> Transition | None:
    """T10 (resubmission accepted) or T11 (rejected) for a task at (queued, TASK_RENOTIFY_REQUESTED).

    The API or admin made T9, possibly setting a new script selector, which decide() now uses.
    Each resubmission is one attempt more, whatever its outcome.
    """
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None or contact.pair != TASK_RENOTIFYING:
        return None
    with transaction.atomic():
        # A queued task holds no slot (one is taken only together with T3/T8), so this closes
        # nothing unless an earlier bug left one open; then it goes with the move, not later.
        freed_mrd = routing.release_slot(contact.pk)
        row = _decide_and_apply(contact, attempt=contact.attempt + 1)
        if freed_mrd is not None:
            routing.route_after_commit(freed_mrd)
    return row


def _decide_and_apply(contact: Contact, **extra) -> Transition | None:
    with transaction.atomic():
        lookups = Lookups()
        _, mrd_id = target(contact, lookups)
        if mrd_id is not None:
            # Lock the MRD as routing does (see `_admit`).
            MediaRoutingDomain.objects.select_for_update().filter(pk=mrd_id).first()
        decision = decide(contact, lookups)
        state, reason = _answer(decision)
        try:
            return lifecycle.transition(
                contact, state, reason, source=Source.CCE, changes={**_fields(decision, lookups), **extra}
            )
        except TransitionRefused as refused:
            # Another actor (a cancel) moved it first: its outcome stands.
            log.info("CCE answer for contact %s not applied: %s", contact.pk, refused)
            return None


def _answer(decision: Decision) -> tuple[str, str]:
    """The position the CCE's answer puts a contact in."""
    return (State.QUEUED if decision.queued else State.DISCARDED), decision.reason


def _fields(decision: Decision, lookups: Lookups) -> dict:
    """What the answer records on the contact besides its position: the MRD and selector used, the
    estimate, and when a queued contact's task life ends (None: no limit)."""
    task_life = None
    if decision.queued and decision.mrd_id is not None:
        mrd = lookups.mrd(decision.mrd_id)
        if mrd is not None and mrd.task_life_seconds:
            task_life = timezone.now() + timedelta(seconds=mrd.task_life_seconds)
    return {
        "cce_mrd_id": decision.mrd_id,
        "cce_script_selector": decision.script_selector,
        "estimated_wait": decision.estimated_wait,
        "due_at": task_life,
    }


def cancel(contact_id: int) -> Transition | None:
    """Perform a requested cancel now if the cancel latency is 0; otherwise the sweep performs it once
    `requested at + CCE_CANCEL_LATENCY_SECONDS` has passed (a due time, never a countdown task)."""
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None or contact.pair not in (CB_CANCELLING, TASK_CANCELLING):
        return None
    if settings.CCE_CANCEL_LATENCY_SECONDS > 0:
        return None
    return perform_cancel(contact)


def perform_cancel(contact: Contact) -> Transition | None:
    """C6/T7: the CCE removed the contact from its queue; refused if routing won the race (C7/T8)."""
    reason = Reason.CALLBACK_CANCEL_SUCCEEDED if contact.kind == Kind.CALLBACK else Reason.TASK_CANCEL_SUCCEEDED
    try:
        return lifecycle.transition(contact, State.DISCARDED, reason, source=Source.CCE, changes={"due_at": None})
    except TransitionRefused as refused:
        log.info("cancel of contact %s failed, routing won: %s", contact.pk, refused)
        return None


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Act on every due timed event, then route each MRD that has waiting contacts and a free slot.

    Run by Celery beat every CCE_SWEEP_SECONDS. A killed worker delays these events; none is lost.
    """
    now = now or timezone.now()
    done = {
        "completed": complete_due_tasks(now),
        "slots_freed": routing.release_due_slots(now),
        "cancelled": perform_due_cancels(now),
        "expired": expire_queued(now),
    }
    mrd_ids = routing.mrds_worth_routing()
    for mrd_id in mrd_ids:
        routing.force_route_after_commit(mrd_id)
    done["mrds_routed"] = len(mrd_ids)
    return done


def complete_due_tasks(now: datetime, batches: int = COMPLETION_BATCHES) -> int:
    """T4 for reserved tasks whose handle time has ended; they wait while the MR PG connection is down.

    Taken oldest due first from the due-time index, SWEEP_BATCH at a time, each batch one compare-and-set
    (`routing.complete_many`), so completions keep up however long the queues behind them are.
    """
    if not CceSettings.load().connection_up:
        return 0
    completed = 0
    for _ in range(batches):
        due = list(
            Contact.objects.filter(
                kind=Kind.TASK, state=State.RESERVED, reason=Reason.EXTERNALLY_ROUTED, due_at__lte=now
            ).order_by("due_at", "id")[:SWEEP_BATCH]
        )
        completed += routing.complete_many(due, now)
        if len(due) < SWEEP_BATCH:
            break
    return completed


def perform_due_cancels(now: datetime) -> int:
    cutoff = now - timedelta(seconds=settings.CCE_CANCEL_LATENCY_SECONDS)
    due = queues.cancels_requested_before(cutoff).order_by("requested_at", "id")[:SWEEP_BATCH]
    return sum(perform_cancel(contact) is not None for contact in due)


def expire_queued(now: datetime) -> int:
    """C4/T5 NOTIFICATION_ROUTER_RELEASED_TASK for contacts that waited longer than their MRD's task life.

    A cancel in flight is left alone: its cancel completes (C6/T7) or routing wins (C7/T8).
    """
    due = Contact.objects.filter(state=State.QUEUED, reason__in=WAITING_REASONS, due_at__lte=now).order_by(
        "due_at", "id"
    )[:SWEEP_BATCH]
    expired = 0
    for contact in due:
        try:
            changes = {"due_at": None}
            expired += bool(
                lifecycle.transition(
                    contact, State.DISCARDED, Reason.ROUTER_RELEASED_TASK, source=Source.CCE, changes=changes
                )
            )
        except TransitionRefused as refused:
            log.info("task life expiry of contact %s not applied: %s", contact.pk, refused)
    return expired
