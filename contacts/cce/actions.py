"""The mock CCE's answers to a submission, a cancel and a renotify, and the sweep of due timed events.

Each function takes an id, reloads, re-checks the contact's position and returns early if the work
is done, so a task may run twice (acks_late redelivery, the reconciler) without harm. Every move is
a compare-and-set through `contacts.lifecycle`; a refused move is never retried: the contact keeps
the outcome the winner gave it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .. import lifecycle
from ..lifecycle import (
    CB_CANCELLING,
    TASK_CANCELLING,
    TASK_RENOTIFYING,
    UNREAD,
    Kind,
    Reason,
    Source,
    State,
    TransitionRefused,
)
from ..models import Contact, Transition
from . import queues, routing
from .decisions import Decision, decide, target
from .models import CceSettings, MediaRoutingDomain

log = logging.getLogger(__name__)

# Rows acted on per kind of due event in one sweep; the next sweep takes the rest.
SWEEP_BATCH = 200


def submit(contact_id: int) -> Transition | None:
    """C2/T2 (queued, with the MRD, script selector and estimated wait the CCE used) or C4/T5 (discarded)."""
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None or contact.pair != UNREAD:
        return None
    # Throttle admission (next issue) goes here, before decide() (DESIGN invariant 6): an atomic step
    # that admits the contact, keeps it unread in the backlog with a due time, or discards it RATE_LIMITED.
    return _decide_and_apply(contact)


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
        _, mrd_id = target(contact)
        if mrd_id is not None:
            # Lock the MRD as routing does: two submissions to one MRD never both take the last place
            # under its queue limit, and the estimate counts a queue that routing is not changing.
            MediaRoutingDomain.objects.select_for_update().filter(pk=mrd_id).first()
        return _apply(contact, decide(contact), **extra)


def _apply(contact: Contact, decision: Decision, **extra) -> Transition | None:
    changes = {
        "cce_mrd_id": decision.mrd_id,
        "cce_script_selector": decision.script_selector,
        "estimated_wait": decision.estimated_wait,
        "due_at": _task_life_ends(decision.mrd_id) if decision.queued else None,
        **extra,
    }
    state = State.QUEUED if decision.queued else State.DISCARDED
    try:
        return lifecycle.transition(contact, state, decision.reason, source=Source.CCE, changes=changes)
    except TransitionRefused as refused:
        # Another actor (a cancel) moved it first: its outcome stands.
        log.info("CCE answer for contact %s not applied: %s", contact.pk, refused)
        return None


def _task_life_ends(mrd_id: int | None) -> datetime | None:
    """The due time at which a contact queued now has waited the MRD's task life (None: no limit)."""
    seconds = MediaRoutingDomain.objects.filter(pk=mrd_id).values_list("task_life_seconds", flat=True).first()
    return timezone.now() + timedelta(seconds=seconds) if seconds else None


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
        routing.route_after_commit(mrd_id)
    done["mrds_routed"] = len(mrd_ids)
    return done


def complete_due_tasks(now: datetime) -> int:
    """T4 for reserved tasks whose handle time has ended; they wait while the MR PG connection is down."""
    if not CceSettings.load().connection_up:
        return 0
    due = Contact.objects.filter(
        kind=Kind.TASK, state=State.RESERVED, reason=Reason.EXTERNALLY_ROUTED, due_at__lte=now
    ).order_by("due_at", "id")[:SWEEP_BATCH]
    return sum(routing.complete(contact, now) for contact in due)


def perform_due_cancels(now: datetime) -> int:
    cutoff = now - timedelta(seconds=settings.CCE_CANCEL_LATENCY_SECONDS)
    due = queues.cancels_requested_before(cutoff).order_by("requested_at", "id")[:SWEEP_BATCH]
    return sum(perform_cancel(contact) is not None for contact in due)


def expire_queued(now: datetime) -> int:
    """C4/T5 NOTIFICATION_ROUTER_RELEASED_TASK for contacts that waited longer than their MRD's task life.

    A cancel in flight is left alone: its cancel completes (C6/T7) or routing wins (C7/T8).
    """
    due = Contact.objects.filter(state=State.QUEUED, reason__in=queues.WAITING_REASONS, due_at__lte=now).order_by(
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
