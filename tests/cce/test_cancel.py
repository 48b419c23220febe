"""Cancel against routing: the cancel succeeds while the contact waits (C6/T7) and fails when routing
wins (C7/T8); raced many times, every contact ends with exactly one outcome by a legal path.

The thread races are PostgreSQL-only (`postgres` marker): there two connections really run at once,
while SQLite serialises writers. The worker races run everywhere.
"""

from __future__ import annotations

import io
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from contacts.cce import actions, routing, tasks
from contacts.cce.models import Agent, AgentAssignment
from contacts.core import lifecycle
from contacts.core.lifecycle import Source
from contacts.core.models import Contact, Feed
from tests.polling import wait_for

HANDLED = ("handled", "EXTERNALLY_HANDLED")
TASK_CANCELLED = ("discarded", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED")
CALLBACK_CANCELLED = ("discarded", "NOTIFICATION_CCE_CALLBACK_CANCEL_SUCCEEDED")
CANCEL_REQUESTED = {
    "task": "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED",
    "callback": "NOTIFICATION_CCE_CALLBACK_CANCEL_REQUESTED",
}
# Every legal history of a contact that was queued, then cancelled, whoever won.
LEGAL_PATHS = {
    ("T1", "T2", "T6", "T7"),
    ("T1", "T2", "T6", "T8"),
    ("T1", "T2", "T6", "T8", "T4"),
    ("C1", "C2", "C5", "C6"),
    ("C1", "C2", "C5", "C7"),
}


@pytest.fixture
def demo(transactional_db) -> None:
    call_command("seed_demo", stdout=io.StringIO())


def create(kind: str) -> Contact:
    feed = Feed.objects.get(pk=100 if kind == "task" else 200)
    return lifecycle.create(kind, feed, name="n", title="t", script_selector="Waiting" if kind == "task" else "")


def queued(contact: Contact) -> Contact:
    wait_for(lambda: Contact.objects.get(pk=contact.pk).state == "queued", what=f"{contact} queued")
    contact.refresh_from_db()
    return contact


def request_cancel(contact: Contact) -> None:
    """C5/T6, as the API's DELETE makes it; its after-commit hook enqueues cancel_contact."""
    contact.refresh_from_db()
    lifecycle.transition(contact, "queued", CANCEL_REQUESTED[contact.kind], source=Source.API)


def pair_of(contact: Contact) -> tuple[str, str]:
    return tuple(Contact.objects.filter(pk=contact.pk).values_list("state", "reason").get())


def path_of(contact: Contact) -> tuple[str, ...]:
    return tuple(contact.transitions.values_list("rule", flat=True))


def hold_callbacks() -> None:
    """Callbacks (MRD 1) wait in the queue: no agent of MRD 1 is ready."""
    Agent.objects.filter(mrd_id=1).update(ready=False)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("demo")
class CancelPipelineTests:
    def test_it_cancels_a_waiting_contact_of_either_kind_at_once_without_latency(self, worker):
        hold_callbacks()
        task, call = queued(create("task")), queued(create("callback"))
        request_cancel(task)
        request_cancel(call)
        wait_for(lambda: pair_of(task) == TASK_CANCELLED and pair_of(call) == CALLBACK_CANCELLED)
        assert path_of(task) == ("T1", "T2", "T6", "T7") and path_of(call) == ("C1", "C2", "C5", "C6")

    def test_it_cancels_through_the_sweep_once_the_latency_has_passed(self, start_worker):
        start_worker(CCE_CANCEL_LATENCY_SECONDS="0.5")
        task = queued(create("task"))
        request_cancel(task)
        wait_for(lambda: pair_of(task) == TASK_CANCELLED)
        moves = task.transitions.filter(rule__in=["T6", "T7"]).order_by("id")
        requested, done = moves.values_list("created_at", flat=True)
        assert (done - requested).total_seconds() >= 0.5

    def test_it_fails_the_cancel_of_either_kind_when_routing_wins(self, start_worker):
        start_worker(CCE_CANCEL_LATENCY_SECONDS="60")
        hold_callbacks()
        task, call = queued(create("task")), queued(create("callback"))
        request_cancel(task)
        request_cancel(call)
        Agent.objects.filter(mrd_id__in=[1, 5002]).update(ready=True)
        tasks.route_mrd.delay(1)
        tasks.route_mrd.delay(5002)
        wait_for(lambda: pair_of(task) == HANDLED and pair_of(call) == HANDLED)
        assert path_of(task) == ("T1", "T2", "T6", "T8", "T4") and path_of(call) == ("C1", "C2", "C5", "C7")
        task.refresh_from_db()
        assert task.agent_id == "1099" and task.cce_task_id == f"5002_{task.pk}_1"

    def test_it_gives_every_raced_contact_one_outcome(self, start_worker):
        # Nine slots taken for at least 1.5 s each, cancels due 1 s after their request: routing
        # wins for the contacts it reaches first, the cancel for the rest; the sweep races both.
        start_worker(CCE_CANCEL_LATENCY_SECONDS="1", CCE_HANDLE_TIME_SCALE="0.5")
        Agent.objects.filter(mrd_id=5000).update(ready=False)
        feed = Feed.objects.get(pk=100)
        contacts = [lifecycle.create("task", feed, name=str(i), script_selector="Sales") for i in range(20)]
        for contact in contacts:
            queued(contact)
            request_cancel(contact)
        Agent.objects.filter(mrd_id=5000).update(ready=True)
        tasks.route_mrd.delay(5000)
        finals = {HANDLED, TASK_CANCELLED}
        wait_for(lambda: all(pair_of(contact) in finals for contact in contacts), timeout=60)
        paths = [path_of(contact) for contact in contacts]
        assert set(paths) <= LEGAL_PATHS, paths
        assert {path[-1] for path in paths} == {"T4", "T7"}  # both ways happened
        assert not AgentAssignment.objects.filter(released_at=None).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("demo")
class CancelRaceTests:
    """Routing and the cancel released at once from two threads (two connections), many times."""

    def race(self, contact: Contact, handicap: str) -> None:
        barrier = threading.Barrier(2)
        seen = Contact.objects.get(pk=contact.pk)

        def run(name: str, work) -> None:
            try:
                barrier.wait(timeout=10)
                if handicap == name:
                    time.sleep(0.02)
                work()
            finally:
                connection.close()

        threads = [
            threading.Thread(target=run, args=("route", lambda: routing.route(contact.cce_mrd_id))),
            threading.Thread(target=run, args=("cancel", lambda: actions.perform_cancel(seen))),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def test_it_lets_exactly_one_of_cancel_and_routing_win(self):
        Agent.objects.filter(mrd_id__in=[1, 5002]).update(ready=False)
        Agent.objects.filter(agent_id__in=["1099", "2001"]).update(ready=True)
        winners = {"cancel": 0, "route": 0}
        for i in range(60):
            kind = "task" if i % 2 else "callback"
            contact = create(kind)
            actions.submit(contact.pk)
            request_cancel(contact)
            contact.refresh_from_db()
            self.race(contact, handicap=("route", "cancel", "")[i % 3])
            path = path_of(contact)
            assert path in LEGAL_PATHS, path
            routed = path[3] in {"T8", "C7"}
            winners["route" if routed else "cancel"] += 1
            assignment = AgentAssignment.objects.filter(contact=contact).first()
            assert (assignment is not None) == routed  # a refused routing move took no slot
            AgentAssignment.objects.update(released_at=timezone.now())  # free the slot for the next round
        assert winners["cancel"] > 0 and winners["route"] > 0, winners
