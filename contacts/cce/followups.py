"""The work a contact's new position calls for, enqueued after the transition that put it there commits.

When a message is lost (a killed worker, a restarted broker) the same work is found again from the
positions: unread → the reconciler drains the backlog, renotifying → the reconciler resubmits it,
cancel requested → the sweep performs it when due, waiting in a queue or a slot freed → the sweep
routes the MRD (contacts.cce.reconcile, contacts.cce.actions.sweep). A position added here needs
its line there too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contacts.core.lifecycle import CANCEL_REQUESTED, WAITING_REASONS, Reason, State

if TYPE_CHECKING:
    from contacts.core.models import Transition


def after_transition(row: Transition) -> None:
    from . import routing

    mrd_id = _enqueue(row)
    if mrd_id is not None:
        routing.request_routing(mrd_id)


def after_transitions(rows: list[Transition]) -> None:
    """The same for a batch of moves (`lifecycle.transition_many`): each MRD they touch is routed once."""
    from . import routing

    for mrd_id in sorted({mrd_id for mrd_id in map(_enqueue, rows) if mrd_id is not None}):
        routing.request_routing(mrd_id)


def _enqueue(row: Transition) -> int | None:
    """Enqueue the task the move calls for; returns the MRD it makes worth routing instead, if any."""
    from . import tasks

    state, reason = row.to_state, row.to_reason
    if state == State.UNREAD:
        tasks.submit_contact.delay(row.contact_id)
    elif state == State.QUEUED and reason in CANCEL_REQUESTED:
        tasks.cancel_contact.delay(row.contact_id)
    elif state == State.QUEUED and reason == Reason.TASK_RENOTIFY_REQUESTED:
        tasks.renotify_contact.delay(row.contact_id)
    elif (state == State.QUEUED and reason in WAITING_REASONS) or row.from_state == State.RESERVED:
        # A contact joined the MRD's queue (C2/T2/T10), or a task was completed and freed its
        # agent's slot (T4): either may let routing hand out one more contact. One pass per MRD
        # serves all of them (contacts.cce.routing.request_routing).
        return row.contact.cce_mrd_id
    return None
