"""Routing with real workers and real concurrent connections: an agent made ready in the admin picks up
waiting contacts; slots are never over-used, with two workers or two routing passes at once; the MRD
lock keeps two submissions from both taking a queue's last place.

The thread races are PostgreSQL-only (`postgres` marker): SQLite serialises writers.
"""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from contacts.cce import actions, routing
from contacts.cce.models import Agent, AgentAssignment, MediaRoutingDomain
from contacts.core import lifecycle
from contacts.core.models import Contact, Feed, Transition
from tests.polling import wait_for

HANDLED = ("handled", "EXTERNALLY_HANDLED")
RESERVED = ("reserved", "EXTERNALLY_ROUTED")
TASK_QUEUED = ("queued", "EXTERNALLY_ROUTED")



def pair(contact: Contact) -> tuple[str, str]:
    contact.refresh_from_db()
    return (contact.state, contact.reason)


def demo_config() -> None:
    call_command("seed_demo", stdout=io.StringIO())


def most_slots_ever_used(agent: Agent) -> int:
    """The largest number of the agent's assignments open at one instant, from the slot history."""
    events = []
    still_open = timezone.now() + timedelta(days=1)
    for started, released in agent.assignments.values_list("started_at", "released_at"):
        events += [(started, 1), (released or still_open, -1)]
    in_use = peak = 0
    for _, change in sorted(events):  # at one instant a release (-1) sorts before a start (+1)
        in_use += change
        peak = max(peak, in_use)
    return peak


@pytest.mark.django_db(transaction=True)
class RoutingWorkerTests:
    def test_it_hands_waiting_contacts_to_an_agent_made_ready_in_the_admin(self, worker, client):
        demo_config()
        feed = Feed.objects.get(pk=100)
        waiting = [lifecycle.create("task", feed, name=str(i), script_selector="Waiting") for i in range(3)]
        for contact in waiting:
            wait_for(lambda: Contact.objects.get(pk=contact.pk).pair == TASK_QUEUED)  # noqa: B023
        frank = Agent.objects.get(agent_id="1099")
        client.force_login(get_user_model().objects.get(username="superuser"))
        response = client.post(
            f"/admin/contacts/agent/{frank.pk}/change/",
            {"name": "Frank", "agent_id": "1099", "mrd": 5002, "ready": "on", "max_concurrent": 1,
             "handle_time_min": 3, "handle_time_max": 10, "_save": "1"},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        wait_for(lambda: all(pair(contact) == HANDLED for contact in waiting))
        served = list(frank.assignments.order_by("started_at").values_list("contact_id", flat=True))
        queued_order = Transition.objects.filter(rule="T2", contact__in=waiting).order_by("created_at", "contact_id")
        assert served == list(queued_order.values_list("contact_id", flat=True))  # first queued, first served
        assert most_slots_ever_used(frank) == 1

    def test_it_never_overuses_a_slot_with_two_workers(self, start_worker):
        demo_config()
        start_worker(beat=True, CCE_HANDLE_TIME_SCALE="0.05")
        start_worker(beat=False, CCE_HANDLE_TIME_SCALE="0.05")
        feed = Feed.objects.get(pk=100)
        contacts = [lifecycle.create("task", feed, name=str(i), script_selector="Sales") for i in range(40)]
        wait_for(lambda: all(pair(contact) == HANDLED for contact in contacts), timeout=90)
        agents = Agent.objects.filter(mrd_id=5000)
        assert sum(agent.assignments.count() for agent in agents) == 40
        for agent in agents:
            assert most_slots_ever_used(agent) <= agent.max_concurrent, agent


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class MrdLockRaceTests:
    """Two actors on one MRD released at once from two threads and connections (PostgreSQL only)."""

    def run_together(self, *calls) -> None:
        barrier = threading.Barrier(len(calls))

        def run(call) -> None:
            try:
                barrier.wait(timeout=10)
                call()
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=(call,)) for call in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def test_it_never_gives_one_free_slot_to_two_routing_passes(self):
        demo_config()
        frank = Agent.objects.get(agent_id="1099")  # MRD 5002's only agent, one slot
        Agent.objects.filter(pk=frank.pk).update(ready=True)
        feed = Feed.objects.get(pk=100)
        for _ in range(20):
            waiting = [lifecycle.create("task", feed, name="race", script_selector="Waiting") for _ in range(2)]
            for contact in waiting:
                actions.submit(contact.pk)
            self.run_together(lambda: routing.route(5002), lambda: routing.route(5002))
            assert sorted(pair(contact) for contact in waiting) == [TASK_QUEUED, RESERVED]
            assert frank.assignments.filter(released_at=None).count() == 1
            Contact.objects.filter(pk__in=[c.pk for c in waiting]).update(state="discarded", reason="")
            AgentAssignment.objects.update(released_at=timezone.now())  # free the slot for the next round

    def test_it_never_lets_two_submissions_take_the_last_place(self):
        demo_config()
        MediaRoutingDomain.objects.filter(pk=5002).update(max_tasks_in_queue=1)
        feed = Feed.objects.get(pk=100)
        for _ in range(20):
            first, second = [lifecycle.create("task", feed, name="race", script_selector="Waiting") for _ in range(2)]
            self.run_together(lambda: actions.submit(first.pk), lambda: actions.submit(second.pk))  # noqa: B023
            outcomes = sorted([pair(first), pair(second)])
            assert outcomes == [("discarded", "NOTIFICATION_ROUTER_RELEASED_TASK"), TASK_QUEUED], outcomes
            Contact.objects.filter(pk__in=[first.pk, second.pk]).update(state="discarded", reason="")  # empty the queue
