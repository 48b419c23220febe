"""Routing of spec §5 called directly: FIFO per MRD, slots, handle times, the sweep's due events.

With real workers and real concurrent connections: tests/test_cce_routing_workers.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.cce import actions, routing
from contacts.cce.models import (
    Agent,
    AgentAssignment,
    CceSettings,
    DialedNumber,
    MediaRoutingDomain,
    RoutingDue,
    RoutingScript,
)
from contacts.core import lifecycle
from contacts.core.lifecycle import Source
from contacts.core.models import Contact, Feed, FeedNotification

HANDLED = ("handled", "EXTERNALLY_HANDLED")
RESERVED = ("reserved", "EXTERNALLY_ROUTED")
TASK_QUEUED = ("queued", "EXTERNALLY_ROUTED")


@pytest.fixture
def mrd(db) -> MediaRoutingDomain:
    """MRD 7000 with script selector "Q" and no agents yet; feeds 100 (tasks) and 200 (callbacks to 7000)."""
    Feed.objects.create(id=100, name="tasks", type=12)
    callbacks = Feed.objects.create(id=200, name="callbacks", type=10)
    mrd = MediaRoutingDomain.objects.create(id=7000, name="routing")
    DialedNumber.objects.create(string="Q", mrd=mrd, script=RoutingScript.objects.create(name="route"))
    FeedNotification.objects.create(feed=callbacks, mrd_id=7000, script_selector="Q")
    return mrd


def agent(mrd: MediaRoutingDomain, agent_id: str, slots: int = 1, ready: bool = True, handle=(3, 10)) -> Agent:
    return Agent.objects.create(
        name=f"agent {agent_id}", agent_id=agent_id, mrd=mrd, ready=ready, max_concurrent=slots,
        handle_time_min=handle[0], handle_time_max=handle[1],
    )


def submitted(kind: str = "task", feed_id: int = 100, selector: str = "Q") -> Contact:
    contact = lifecycle.create(kind, Feed.objects.get(pk=feed_id), name="n", title="t", script_selector=selector)
    actions.submit(contact.pk)
    contact.refresh_from_db()
    return contact


def pair(contact: Contact) -> tuple[str, str]:
    contact.refresh_from_db()
    return (contact.state, contact.reason)


@pytest.mark.django_db
class RouteTests:
    def test_it_serves_an_mrd_first_in_first_out_by_queue_time(self, mrd):
        feed = Feed.objects.get(pk=100)
        created = [lifecycle.create("task", feed, name=str(i), script_selector="Q") for i in range(3)]
        # Arrival (and so queue) order the reverse of the ids: the throttle submits by arrival.
        start = timezone.now() - timedelta(minutes=1)
        for offset, contact in enumerate(reversed(created)):
            Contact.objects.filter(pk=contact.pk).update(created_at=start + timedelta(seconds=offset))
        actions.submit(created[0].pk)
        agent(mrd, "1", slots=1)
        order = []
        for _ in range(3):
            assert routing.route(mrd.pk) == 1
            reserved = Contact.objects.get(state="reserved")
            order.append(reserved.pk)
            routing.complete(reserved)
        assert order == [created[2].pk, created[1].pk, created[0].pk]

    def test_it_sends_a_renotified_task_to_the_back_of_the_queue(self, mrd):
        first, second = submitted(), submitted()
        lifecycle.transition(first, "queued", "TASK_RENOTIFY_REQUESTED", source=Source.API)
        actions.renotify(first.pk)
        agent(mrd, "1", slots=1)
        routing.route(mrd.pk)
        assert pair(second) == RESERVED and pair(first) == TASK_QUEUED

    def test_it_routes_only_its_own_mrd(self, mrd):
        other = MediaRoutingDomain.objects.create(id=7001, name="other")
        DialedNumber.objects.create(string="O", mrd=other, script=RoutingScript.objects.get())
        mine, theirs = submitted(selector="Q"), submitted(selector="O")
        agent(mrd, "1")
        agent(other, "2")
        assert routing.route(mrd.pk) == 1
        assert pair(mine) == RESERVED and pair(theirs) == TASK_QUEUED

    def test_it_never_uses_more_slots_than_the_ready_agents_have(self, mrd):
        contacts = [submitted() for _ in range(10)]
        first, second = agent(mrd, "1", slots=2), agent(mrd, "2", slots=3)
        agent(mrd, "3", slots=5, ready=False)
        assert routing.route(mrd.pk) == 5
        assert routing.route(mrd.pk) == 0
        assert first.assignments.filter(released_at=None).count() == 2
        assert second.assignments.filter(released_at=None).count() == 3
        assert sum(pair(contact) == RESERVED for contact in contacts) == 5
        assert [pair(contact) for contact in contacts[:5]] == [RESERVED] * 5  # the oldest five

    def test_it_spreads_contacts_over_the_agents_with_most_free_slots(self, mrd):
        for _ in range(4):
            submitted()
        first, second = agent(mrd, "1", slots=2), agent(mrd, "2", slots=2)
        routing.route(mrd.pk)
        assert first.assignments.count() == 2 and second.assignments.count() == 2

    def test_it_reserves_a_task_with_its_task_id_agent_id_and_completion_due_time(self, mrd):
        contact = submitted()
        agent(mrd, "1081", handle=(3, 10))
        routing.route(mrd.pk)
        contact.refresh_from_db()
        assignment = contact.assignment
        assert contact.pair == RESERVED
        assert (contact.cce_task_id, contact.agent_id) == (f"7000_{contact.pk}_1", "1081")
        assert contact.due_at == assignment.ends_at
        assert timedelta(seconds=3) <= assignment.ends_at - assignment.started_at <= timedelta(seconds=10)

    def test_it_handles_a_callback_when_routed_and_keeps_the_slot_for_the_call(self, mrd):
        contact = submitted("callback", feed_id=200)
        assert pair(contact) == ("queued", "EXTERNALLY_HANDLED")
        assert contact.cce_mrd_id == 7000
        agent(mrd, "1", slots=1)
        routing.route(mrd.pk)
        assert pair(contact) == HANDLED
        assert contact.assignment.is_open
        assert list(contact.transitions.values_list("rule", flat=True)) == ["C1", "C2", "C3"]
        waiting = submitted()
        assert routing.route(mrd.pk) == 0  # the agent is on the call
        actions.sweep(now=contact.assignment.ends_at)
        contact.assignment.refresh_from_db()
        assert not contact.assignment.is_open
        assert routing.route(mrd.pk) == 1 and pair(waiting) == RESERVED

    def test_it_routes_a_contact_whose_cancel_is_in_flight(self, mrd):
        task, call = submitted(), submitted("callback", feed_id=200)
        lifecycle.transition(task, "queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED", source=Source.API)
        lifecycle.transition(call, "queued", "NOTIFICATION_CCE_CALLBACK_CANCEL_REQUESTED", source=Source.API)
        agent(mrd, "1", slots=2)
        assert routing.route(mrd.pk) == 2
        assert task.transitions.last().rule == "T8" and pair(task) == RESERVED
        assert call.transitions.last().rule == "C7" and pair(call) == HANDLED

    def test_it_skips_a_contact_another_move_took_and_takes_no_slot_for_it(self, mrd):
        contact = submitted()
        seen = Contact.objects.get(pk=contact.pk)  # what routing read, before the cancel won
        lifecycle.transition(contact, "queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED", source=Source.API)
        actions.perform_cancel(contact)
        free = agent(mrd, "1")
        assert routing._assign_many([(seen, free)], mrd.pk, timezone.now()) == set()
        assert not AgentAssignment.objects.exists()
        assert pair(contact) == ("discarded", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED")

    def test_a_slot_a_contact_lost_to_a_cancel_would_have_taken_goes_to_the_next_in_line(self, mrd, monkeypatch):
        first, second = submitted(), submitted()
        seen = Contact.objects.get(pk=first.pk)  # the head of the queue as the pass read it
        lifecycle.transition(first, "queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED", source=Source.API)
        actions.perform_cancel(first)
        agent(mrd, "1", slots=1)
        read = routing._routable

        def stale_head_first(mrd_id, now, free, tried=frozenset()):
            return [seen] if not tried else read(mrd_id, now, free, tried)

        monkeypatch.setattr(routing, "_routable", stale_head_first)
        assert routing.route(mrd.pk) == 1
        assert pair(second) == RESERVED and AgentAssignment.objects.get().contact_id == second.pk

    def test_it_does_not_route_while_routing_is_disabled(self, mrd):
        contact = submitted()
        agent(mrd, "1")
        MediaRoutingDomain.objects.filter(pk=mrd.pk).update(routing_enabled=False)
        assert routing.route(mrd.pk) == 0 and pair(contact) == TASK_QUEUED

    def test_it_holds_contacts_for_their_scripts_delay(self, mrd):
        RoutingScript.objects.update(delay_seconds=60)
        contact = submitted()
        agent(mrd, "1")
        assert routing.route(mrd.pk) == 0
        # The delay runs from the contact's queue entry, which T2 stamped: 61 s ago, as far as routing knows.
        Contact.objects.filter(pk=contact.pk).update(queue_entered_at=timezone.now() - timedelta(seconds=61))
        assert routing.route(mrd.pk) == 1 and pair(contact) == RESERVED

    def test_it_draws_handle_times_from_the_agents_range_times_the_scale(self, mrd, settings):
        settings.CCE_HANDLE_TIME_SCALE = 0.5
        slow = agent(mrd, "1", handle=(10, 20))
        draws = [routing.draw_handle_seconds(slow) for _ in range(200)]
        assert all(5 <= draw <= 10 for draw in draws)


@pytest.mark.django_db
class SweepTests:
    def test_it_completes_a_reserved_task_when_its_handle_time_ends(self, mrd):
        contact = submitted()
        agent(mrd, "1")
        routing.route(mrd.pk)
        contact.refresh_from_db()
        actions.sweep(now=contact.due_at - timedelta(seconds=1))
        assert pair(contact) == RESERVED
        actions.sweep(now=contact.due_at)
        assert pair(contact) == HANDLED and contact.due_at is None
        assert not contact.assignment.is_open
        assert list(contact.transitions.values_list("rule", flat=True)) == ["T1", "T2", "T3", "T4"]

    def test_it_completes_more_due_tasks_than_one_batch_holds_in_one_sweep(self, mrd, monkeypatch):
        monkeypatch.setattr(actions, "SWEEP_BATCH", 2)
        contacts = [submitted() for _ in range(5)]
        agent(mrd, "1", slots=5)
        assert routing.route(mrd.pk) == 5
        latest = max(Contact.objects.filter(pk__in=[c.pk for c in contacts]).values_list("due_at", flat=True))
        assert actions.sweep(now=latest)["completed"] == 5
        assert all(pair(contact) == HANDLED for contact in contacts)
        assert not AgentAssignment.objects.filter(released_at__isnull=True).exists()
        assert Contact.objects.filter(transitions__rule="T4").count() == 5

    def test_a_batch_completion_frees_the_slot_of_a_task_another_writer_moved(self, mrd, monkeypatch):
        from contacts.cce import tasks

        routed_again: list[int] = []
        monkeypatch.setattr(routing, "route_after_commit", routed_again.append)
        monkeypatch.setattr(tasks.submit_contact, "delay", lambda contact_id: None)
        first, second = submitted(), submitted()
        agent(mrd, "1", slots=2)
        routing.route(mrd.pk)
        stale = [Contact.objects.get(pk=first.pk), Contact.objects.get(pk=second.pk)]
        lifecycle.transition(Contact.objects.get(pk=second.pk), "handled", "EXTERNALLY_HANDLED", source=Source.CCE)
        assert routing.complete_many(stale) == 1
        assert pair(first) == HANDLED
        assert not AgentAssignment.objects.filter(released_at__isnull=True).exists()
        assert routed_again == [mrd.pk]  # the other writer's slot: its MRD routed again

    def test_it_keeps_reserved_tasks_while_the_connection_is_down(self, mrd):
        contact = submitted()
        agent(mrd, "1")
        routing.route(mrd.pk)
        contact.refresh_from_db()
        CceSettings.objects.update_or_create(pk=CceSettings.SINGLETON_ID, defaults={"connection_up": False})
        actions.sweep(now=contact.due_at)
        assert pair(contact) == RESERVED

    def test_it_releases_a_contact_that_outlived_the_mrds_task_life(self, mrd):
        MediaRoutingDomain.objects.filter(pk=mrd.pk).update(task_life_seconds=30)
        contact = submitted()
        assert contact.due_at is not None
        actions.sweep(now=contact.due_at - timedelta(seconds=1))
        assert pair(contact) == TASK_QUEUED
        actions.sweep(now=contact.due_at)
        assert pair(contact) == ("discarded", "NOTIFICATION_ROUTER_RELEASED_TASK")
        assert contact.transitions.last().rule == "T5"

    def test_it_leaves_a_cancel_in_flight_to_its_cancel_when_the_task_life_ends(self, mrd, settings):
        settings.CCE_CANCEL_LATENCY_SECONDS = 3600
        MediaRoutingDomain.objects.filter(pk=mrd.pk).update(task_life_seconds=30)
        contact = submitted()
        lifecycle.transition(contact, "queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED", source=Source.API)
        actions.sweep(now=contact.due_at + timedelta(seconds=1))
        assert pair(contact) == ("queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED")

    def test_it_performs_a_cancel_once_its_latency_has_passed(self, mrd, settings):
        settings.CCE_CANCEL_LATENCY_SECONDS = 5
        contact = submitted()
        lifecycle.transition(contact, "queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED", source=Source.API)
        requested = contact.transitions.last().created_at
        actions.cancel(contact.pk)
        actions.sweep(now=requested + timedelta(seconds=4))
        assert pair(contact) == ("queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED")
        actions.sweep(now=requested + timedelta(seconds=5))
        assert pair(contact) == ("discarded", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED")

    def test_it_finds_the_mrds_with_waiting_contacts_and_free_slots(self, mrd):
        submitted()
        assert routing.mrds_worth_routing() == set()
        agent(mrd, "1")
        assert routing.mrds_worth_routing() == {7000}


@pytest.mark.django_db
class CoalescedRoutingTests:
    @pytest.fixture
    def sent(self, monkeypatch) -> list[int]:
        from contacts.cce import tasks

        sent: list[int] = []
        monkeypatch.setattr(tasks.route_mrd, "delay", sent.append)
        monkeypatch.setattr(tasks.submit_contact, "delay", lambda contact_id: None)  # submitted() submits itself
        return sent

    def test_many_marks_send_one_routing_message_until_the_pass_starts(self, mrd, sent):
        assert [routing.request_routing(mrd.pk) for _ in range(10)] == [True] + [False] * 9
        assert sent == [mrd.pk]
        routing.route(mrd.pk)  # the pass unmarks the MRD first
        assert routing.request_routing(mrd.pk) is True
        assert sent == [mrd.pk, mrd.pk]

    def test_a_stale_mark_sends_again_as_its_message_may_have_died_with_a_worker(self, mrd, sent):
        routing.request_routing(mrd.pk)
        stale = timezone.now() - timedelta(seconds=routing.STALE_MARK_SECONDS + 1)
        RoutingDue.objects.filter(mrd_id=mrd.pk).update(marked_at=stale)
        assert routing.request_routing(mrd.pk) is True
        assert sent == [mrd.pk, mrd.pk]

    def test_queueing_contacts_sends_one_message_per_mrd_not_one_per_contact(
        self, mrd, sent, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(5):
                submitted()
        assert sent == [mrd.pk]

    @pytest.mark.parametrize("slots, waiting", [(4, 9), (12, 9)])
    def test_a_pass_never_leaves_a_free_slot_and_a_waiting_contact_both_idle(self, mrd, slots, waiting):
        contacts = [submitted() for _ in range(waiting)]
        agent(mrd, "1", slots=slots // 2)
        agent(mrd, "2", slots=slots - slots // 2)
        assert routing.route(mrd.pk) == min(slots, waiting)
        still_waiting = sum(pair(contact) == TASK_QUEUED for contact in contacts)
        free = sum(a.max_concurrent - a.assignments.filter(released_at__isnull=True).count()
                   for a in Agent.objects.filter(mrd=mrd))
        assert still_waiting == 0 or free == 0
        assert (still_waiting, free) == (max(0, waiting - slots), max(0, slots - waiting))
