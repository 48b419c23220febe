"""The one place that pushes committed transitions to live dashboards, and owns the event format.

Event (JSON object, sent to the Channels group `DASHBOARD_GROUP` as type `contact.event`):
    id          Transition id (grows by insert, not commit: clients dedupe and resync by it)
    contact     public id of the contact
    kind        "callback" | "task"
    rule        row of the lifecycle table, e.g. "T7"
    from, to    [state, reason] pairs ("from" is null for a create)
    source      api / worker / cce / dashboard / admin / system
    user        username of the acting user, or null
    comment     free text ("" if none)
    at          ISO 8601 time of the move
    feed, mrd, script_selector, name, title: the contact's grouping and display fields
    cce_script_selector  the script selector the CCE used ("" until submitted; "script_selector"
                falls back to the requested one)
    created     ISO 8601 time the contact was created (list pages show its age)
    estimated_wait, attempt, cce_task_id, agent_id: the contact's CCE fields (the detail page)
The contact fields are the contact's values when the event is built: at the move for a live
event, now for one fetched again from the events endpoint.

Heartbeat (type `contact.heartbeat`, every few seconds from Celery beat via `send_heartbeat`):
    last_id     the newest committed Transition id; a page that has seen less is behind and resyncs
    at          ISO 8601 time it was sent
Other messages on the same group, each built by the module that owns it and sent with `send()`:
`alert.ack` and `alert.queue` (contacts.alerts.discards, contacts.alerts.queues: acknowledgements and queue
alerts, each with its own id for dedupe) and `job.progress` (contacts.workflows.jobs: bulk job progress).
Messages are hints; the database is the truth (DESIGN invariant 3).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from celery import shared_task
from django.db.models import Max
from django.utils import timezone

from .sender import sender

if TYPE_CHECKING:
    from contacts.core.models import Transition

log = logging.getLogger(__name__)

DASHBOARD_GROUP = "dashboard"


def transition_event(row: Transition) -> dict:
    """The event for one committed move; load `row` with its contact and user to avoid a query each."""
    contact = row.contact
    return {
        "id": row.pk,
        "contact": contact.public_id,
        "kind": contact.kind,
        "rule": row.rule,
        "from": [row.from_state, row.from_reason] if row.from_state else None,
        "to": [row.to_state, row.to_reason],
        "source": row.source,
        "user": row.user.get_username() if row.user_id else None,
        "comment": row.comment,
        "at": row.created_at.isoformat(),
        "feed": contact.feed_id,
        "mrd": contact.cce_mrd_id,
        "script_selector": contact.cce_script_selector or contact.script_selector,
        "name": contact.name,
        "title": contact.title,
        "cce_script_selector": contact.cce_script_selector,
        "created": contact.created_at.isoformat() if contact.created_at else None,
        "estimated_wait": contact.estimated_wait,
        "attempt": contact.attempt,
        "cce_task_id": contact.cce_task_id,
        "agent_id": contact.agent_id,
    }


def after_transition(row: Transition) -> None:
    """The lifecycle's after-commit hook (registered in contacts.apps): broadcast the committed move."""
    send_transition(row)


def send_transition(row: Transition) -> None:
    """Publish one committed transition; call only after commit (lifecycle does)."""
    send(DASHBOARD_GROUP, {"type": "contact.event", "event": transition_event(row)})


def latest_transition_id() -> int:
    """The newest committed Transition id (0 when there is none); one index lookup."""
    from contacts.core.models import Transition

    return Transition.objects.aggregate(last=Max("id"))["last"] or 0


def heartbeat_message() -> dict:
    return {"type": "contact.heartbeat", "last_id": latest_transition_id(), "at": timezone.now().isoformat()}


@shared_task(name="contacts.broadcast.send_heartbeat", ignore_result=True)
def send_heartbeat() -> None:
    """Tell every open dashboard the newest committed id, so a page that lost events notices and resyncs."""
    send(DASHBOARD_GROUP, heartbeat_message())


def send(group: str, message: dict) -> None:
    """Broadcast `message` to `group` from any code (views, Celery workers, an event loop's thread); never blocks.

    The message goes on this process's one broadcast queue (contacts.live.sender), whose thread sends it
    over a long-lived event loop's channel-layer connections, in order. A failure is logged, never
    raised: the move is already committed and browsers recover missed events from the events endpoint.
    """
    sender().put(group, message)
