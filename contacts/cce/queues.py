"""What an MRD holds right now, read from the database: its queue in FIFO order and its agents' slots.

Read-only helpers shared by `decisions` (queue limit, §7 estimate) and `routing` (who goes to whom).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from contacts.core.lifecycle import CANCEL_REQUESTED, IN_QUEUE_REASONS, State
from contacts.core.models import Contact, Transition

from .models import Agent, AgentAssignment


def in_queue(mrd_id: int | None = None) -> QuerySet[Contact]:
    """Contacts in an MRD's queue (every MRD's when `mrd_id` is None)."""
    contacts = Contact.objects.filter(state=State.QUEUED, reason__in=IN_QUEUE_REASONS)
    return contacts if mrd_id is None else contacts.filter(cce_mrd_id=mrd_id)


def entered_at(reasons: tuple[str, ...]) -> Subquery:
    """When the contact last moved into (queued, one of `reasons`): its latest such `Transition`."""
    moves = Transition.objects.filter(contact=OuterRef("pk"), to_state=State.QUEUED, to_reason__in=reasons)
    return Subquery(moves.order_by("-id").values("created_at")[:1])


def fifo(mrd_id: int) -> QuerySet[Contact]:
    """The MRD's queue, first in first out: by the time each contact was (last) queued, then id.

    That time is `Contact.queue_entered_at`, which every move into a waiting position sets, so the head
    of the queue is read from an index (contact_queue_fifo_idx) however long the queue. A renotified
    task is queued anew (T10) and so goes to the back, as a resubmission does in CCE.
    """
    return in_queue(mrd_id).order_by("queue_entered_at", "id")


def cancels_requested_before(cutoff: datetime) -> QuerySet[Contact]:
    """Contacts whose cancel has been in flight since before `cutoff` (the cancel latency has passed)."""
    return (
        Contact.objects.filter(state=State.QUEUED, reason__in=CANCEL_REQUESTED)
        .annotate(requested_at=entered_at(CANCEL_REQUESTED))
        .filter(requested_at__lte=cutoff)
    )


def ready_agents(mrd_id: int) -> list[Agent]:
    """The MRD's ready agents, each annotated with `used` (open assignments) and `last_started`.

    Two index lookups per agent (assignment_open_idx, assignment_agent_latest_idx), so the cost follows
    the number of agents, not the assignments they have had: every handled contact leaves one behind.
    """
    latest = AgentAssignment.objects.filter(agent=OuterRef("pk")).order_by("-started_at").values("started_at")[:1]
    return list(
        Agent.objects.filter(mrd_id=mrd_id, ready=True)
        .annotate(used=slots_in_use(), last_started=Subquery(latest))
        .order_by("agent_id")
    )


def slots_in_use() -> Coalesce:
    """An agent's open assignments, as an expression on `Agent` rows (one index lookup, assignment_open_idx)."""
    open_slots = (
        AgentAssignment.objects.filter(agent=OuterRef("pk"), released_at__isnull=True)
        .order_by()
        .values("agent")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(open_slots, output_field=IntegerField()), 0)


def free_slots(agent: Agent) -> int:
    # An admin may lower max_concurrent below what the agent already holds: that is 0 free, not negative.
    return max(0, agent.max_concurrent - agent.used)


@dataclass(frozen=True)
class Capacity:
    """The §7 inputs of an MRD: slots `s` of its ready agents, `free` of them, and `h` (unscaled seconds)."""

    ready_agents: int
    slots: int
    free: int
    mean_handle_seconds: float


def capacity(mrd_id: int) -> Capacity:
    agents = ready_agents(mrd_id)
    if not agents:
        return Capacity(0, 0, 0, 0.0)
    return Capacity(
        ready_agents=len(agents),
        slots=sum(agent.max_concurrent for agent in agents),
        free=sum(free_slots(agent) for agent in agents),
        mean_handle_seconds=sum(agent.mean_handle_seconds for agent in agents) / len(agents),
    )
