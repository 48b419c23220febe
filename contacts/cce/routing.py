"""Routing of spec §5: an MRD's queue, first in first out, onto free slots of its ready agents; and slot release.

A routed callback is handled at once (C3, or C7 if its cancel was in flight) and holds the agent's
slot for a handle time; a routed task is reserved (T3/T8) and is handled (T4) when its handle time
ends. Handle-time ends are due times in the database (`Contact.due_at`, `AgentAssignment.ends_at`)
that the sweep acts on (DESIGN invariant 4).

Routing is coalesced per MRD: a contact joining the queue or a freed slot marks the MRD due
(`request_routing`, a row of `RoutingDue`), and a routing message is sent only when the MRD was not
already due. One pass then takes as many waiting contacts as the MRD has free slots.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from contacts.core import hints, lifecycle
from contacts.core.lifecycle import Kind, Reason, Source, State, TransitionRefused
from contacts.core.models import Contact

from . import queues
from .models import Agent, AgentAssignment, CceSettings, DialedNumber, MediaRoutingDomain, RoutingDue

log = logging.getLogger(__name__)

# Candidates read per pass, at most; contacts still waiting out a script delay are skipped, not counted.
ROUTE_BATCH = 500
# A due mark this old has likely lost its message (a killed worker): marking the MRD again sends another.
STALE_MARK_SECONDS = 10.0


def route(mrd_id: int) -> int:
    """Give the MRD's waiting contacts to free agent slots, oldest first; returns how many were routed.

    The MRD row is locked for the whole pass (`select_for_update`; on SQLite the IMMEDIATE
    transaction already serialises writers), so two workers routing the same MRD never both count
    the same free slot. The head of the queue, as long as there are free slots, is moved in batches
    (one compare-and-set per kind and position, `_assign_many`); a contact whose cancel won meanwhile
    is not moved and its slot goes to the next contact in line, so a pass never ends with a free
    slot and a routable contact both idle.
    """
    # Unmark first: whatever joins the queue or frees a slot from now on marks the MRD again and gets a
    # pass of its own, and what came before is committed, so this pass sees it.
    RoutingDue.objects.filter(mrd_id=mrd_id).delete()
    routed = 0
    with transaction.atomic():
        mrd = MediaRoutingDomain.objects.select_for_update().filter(pk=mrd_id).first()
        if mrd is None or not mrd.routing_enabled:
            return 0
        # Read the clock only once the lock is held: a slot freed while we waited for it was freed
        # before this time, so the slot history never shows two contacts in one slot at once.
        now = timezone.now()
        if not CceSettings.load().connection_up:
            # The router cannot reach CCP while the MR PG connection is down: nothing is handed out
            # (bringing the connection up routes again).
            return 0
        agents = [agent for agent in queues.ready_agents(mrd.pk) if queues.free_slots(agent)]
        tried: set[int] = set()
        while free := sum(queues.free_slots(agent) for agent in agents):
            candidates = _routable(mrd.pk, now, free, tried)
            if not candidates:
                break
            plan = []
            for contact in candidates:
                agent = _pick(agents)
                agent.used += 1
                agent.last_started = now
                plan.append((contact, agent))
            moved = _assign_many(plan, mrd.pk, now)
            for contact, agent in plan:
                if contact.pk not in moved:
                    agent.used -= 1  # its slot is free again, for the next in line
            tried.update(contact.pk for contact in candidates)
            routed += len(moved)
    return routed


def _routable(mrd_id: int, now: datetime, free: int, tried: set[int] = frozenset()) -> list[Contact]:
    """The head of the MRD's queue in FIFO order, as many as there are `free` slots, without contacts whose
    script still makes them wait (its delay: then more are read, up to ROUTE_BATCH, to fill the slots) and
    without those this pass `tried` already."""
    delays = dict(
        DialedNumber.objects.filter(mrd_id=mrd_id, script__delay_seconds__gt=0).values_list(
            "string", "script__delay_seconds"
        )
    )
    head = queues.fifo(mrd_id).exclude(pk__in=tried) if tried else queues.fifo(mrd_id)
    candidates = list(head[: ROUTE_BATCH if delays else min(free, ROUTE_BATCH)])
    return [
        contact
        for contact in candidates
        if not delays.get(contact.cce_script_selector)
        or contact.queue_entered_at is None
        or contact.queue_entered_at + timedelta(seconds=delays[contact.cce_script_selector]) <= now
    ][:free]


def _pick(agents: list[Agent]) -> Agent:
    """The agent with the most free slots; on a tie the one idle longest (the longest-available agent).

    Called only while some agent has a free slot."""
    oldest = timezone.now() - timedelta(days=3650)
    free = [agent for agent in agents if queues.free_slots(agent)]
    return min(free, key=lambda agent: (-queues.free_slots(agent), agent.last_started or oldest, agent.agent_id))


def _assign_many(plan: list[tuple[Contact, Agent]], mrd_id: int, now: datetime) -> set[int]:
    """Route each (contact, agent) of `plan`: reserve a task (T3/T8) or hand a callback over (C3/C7), and open
    the agent's slot for it; returns the ids of the contacts moved.

    One compare-and-set per (kind, position read) (`lifecycle.transition_many`), then the moved
    contacts' assignments in one insert: a contact another writer moved first takes no slot. A
    contact that already holds an assignment (routed once already: a bug elsewhere) is left where it
    is, as the one-to-one assignment would refuse it.
    """
    already = set(AgentAssignment.objects.filter(contact_id__in=[c.pk for c, _ in plan]).values_list("contact_id",
                                                                                                      flat=True))
    for contact_id in sorted(already):
        log.warning("contact %s not routed: it already holds an assignment", contact_id)
    groups: dict[tuple[str, str, str], list[tuple[Contact, Agent, datetime]]] = {}
    for contact, agent in plan:
        if contact.pk not in already:
            ends_at = now + timedelta(seconds=draw_handle_seconds(agent))
            groups.setdefault((contact.kind, contact.state, contact.reason), []).append((contact, agent, ends_at))
    moved: set[int] = set()
    opened = []
    for (kind, _, _), group in groups.items():
        if kind == Kind.TASK:
            target = (State.RESERVED, Reason.EXTERNALLY_ROUTED)
            each = {contact.pk: {"cce_task_id": f"{mrd_id}_{contact.pk}_{contact.attempt}",
                                 "agent_id": agent.agent_id, "due_at": ends_at} for contact, agent, ends_at in group}
        else:
            target = (State.HANDLED, Reason.EXTERNALLY_HANDLED)
            each = {contact.pk: {"agent_id": agent.agent_id, "due_at": None} for contact, agent, _ in group}
        try:
            rows = lifecycle.transition_many([contact for contact, _, _ in group], *target, source=Source.CCE,
                                             each=each)
        except TransitionRefused as refused:  # a position routing may not move from: nothing of it moved
            log.warning("contacts %s not routed: %s", [contact.pk for contact, _, _ in group], refused)
            rows = []
        won = {row.contact_id for row in rows}
        moved |= won
        opened += [AgentAssignment(agent=agent, contact=contact, mrd_id=mrd_id, started_at=now, ends_at=ends_at)
                   for contact, agent, ends_at in group if contact.pk in won]
        for contact, _, _ in group:
            if contact.pk not in won:
                log.info("contact %s not routed: another move took it first", contact.pk)
    AgentAssignment.objects.bulk_create(opened)
    return moved


def draw_handle_seconds(agent: Agent) -> float:
    """A handle time from the agent's range, scaled by CCE_HANDLE_TIME_SCALE (tests make it tiny)."""
    return random.uniform(agent.handle_time_min, agent.handle_time_max) * settings.CCE_HANDLE_TIME_SCALE


def complete(contact: Contact, now: datetime | None = None) -> bool:
    """T4: the agent finished a reserved task; frees its slot in the same transaction. True if it moved.

    A refused move (the task is no longer reserved) is not retried; the slot is freed either way, as
    a slot held by a contact that is no longer reserved would be lost to the agent for good.
    """
    now = now or timezone.now()
    with transaction.atomic():
        try:
            row = lifecycle.transition(
                contact, State.HANDLED, Reason.EXTERNALLY_HANDLED, source=Source.CCE, changes={"due_at": None}
            )
        except TransitionRefused as refused:
            log.info("task %s not completed: %s", contact.pk, refused)
            row = None
        mrd_id = release_slot(contact.pk, now)
        if row is None and mrd_id is not None:
            route_after_commit(mrd_id)  # T4 itself has routing enqueued by contacts.cce.followups
    return row is not None


def complete_many(contacts: list[Contact], now: datetime | None = None) -> int:
    """T4 for reserved tasks in one compare-and-set, freeing their slots in the same transaction; returns the moves.

    As `complete()`: a task another writer moved first is not completed, and its slot is freed all the
    same (its MRD is routed); the moved ones have their MRDs routed once by the lifecycle's batch hook.
    """
    if not contacts:
        return 0
    now = now or timezone.now()
    with transaction.atomic():
        rows = lifecycle.transition_many(
            contacts, State.HANDLED, Reason.EXTERNALLY_HANDLED, source=Source.CCE, changes={"due_at": None}
        )
        open_slots = AgentAssignment.objects.filter(
            contact_id__in=[contact.pk for contact in contacts], released_at__isnull=True
        )
        moved = {row.contact_id for row in rows}
        freed_by_others = set(open_slots.exclude(contact_id__in=moved).values_list("mrd_id", flat=True))
        open_slots.update(released_at=now)
        for mrd_id in sorted(freed_by_others):
            route_after_commit(mrd_id)
    return len(rows)


def release_slot(contact_id: int, now: datetime | None = None) -> int | None:
    """Close the contact's open assignment, if any; returns its MRD (for the caller to route), or None."""
    now = now or timezone.now()
    mrd_id = (
        AgentAssignment.objects.filter(contact_id=contact_id, released_at__isnull=True)
        .values_list("mrd_id", flat=True)
        .first()
    )
    if mrd_id is None:
        return None
    AgentAssignment.objects.filter(contact_id=contact_id, released_at__isnull=True).update(released_at=now)
    return mrd_id


def release_due_slots(now: datetime) -> int:
    """Free the slots whose time is up and whose contact no longer waits on them (callbacks' calls).

    Reserved tasks are left to `complete()`, which frees their slot together with T4. The sweep
    routes the MRDs that now have free slots and waiting contacts.
    """
    due = AgentAssignment.objects.filter(released_at__isnull=True, ends_at__lte=now).exclude(
        contact__state=State.RESERVED
    )
    # One UPDATE with the filter in it: a slot another sweep freed meanwhile is not counted twice.
    return due.update(released_at=now)


def route_after_commit(mrd_id: int) -> None:
    """Mark the MRD due for routing once the current transaction commits (a slot freed, an agent ready...)."""
    hints.after_commit(lambda: request_routing(mrd_id), f"routing of MRD {mrd_id}")


def request_routing(mrd_id: int) -> bool:
    """Mark the MRD due; send a routing message only if it was not due already (or its mark is stale).

    Call after commit. One statement decides, so two callers at once send one message between them.
    True if this call sent it.
    """
    from . import tasks

    now = timezone.now()
    table = connection.ops.quote_name(RoutingDue._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (mrd_id, marked_at) VALUES (%s, %s) "
            f"ON CONFLICT (mrd_id) DO UPDATE SET marked_at = excluded.marked_at WHERE {table}.marked_at < %s "
            "RETURNING mrd_id",
            [mrd_id, now, now - timedelta(seconds=STALE_MARK_SECONDS)],
        )
        marked = cursor.fetchone() is not None
    if marked:
        tasks.route_mrd.delay(mrd_id)
    return marked


def force_route_after_commit(mrd_id: int) -> None:
    """Send a routing message once the transaction commits, due or not (the sweep: a lost message is redone)."""
    from . import tasks

    hints.after_commit(lambda: tasks.route_mrd.delay(mrd_id), f"routing of MRD {mrd_id}")


def mrds_worth_routing() -> set[int]:
    """MRDs with routing enabled, a contact in the queue and a ready agent with a free slot.

    The sweep routes these again, which also recovers a routing message lost with a killed worker
    and picks up contacts whose script delay has passed. None while the MR PG connection is down.
    """
    if not CceSettings.load().connection_up:
        return set()
    waiting = set(queues.in_queue().exclude(cce_mrd_id=None).values_list("cce_mrd_id", flat=True).distinct())
    enabled = MediaRoutingDomain.objects.filter(pk__in=waiting, routing_enabled=True).values_list("pk", flat=True)
    return {mrd_id for mrd_id in enabled if any(queues.free_slots(agent) for agent in queues.ready_agents(mrd_id))}
