"""Real races between separate database connections (PostgreSQL only: SQLite serialises writers)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from contacts.core import lifecycle
from contacts.core.lifecycle import Source, TransitionRefused
from contacts.core.models import Contact, Feed, FeedType

CANCELLING = ("queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED")
CANCELLED = ("discarded", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED")
RESERVED = ("reserved", "EXTERNALLY_ROUTED")


def race(contact_id: int, targets: list[tuple[str, str]]) -> list[str]:
    """Each target moved from its own thread and connection, all released by one barrier."""
    barrier = threading.Barrier(len(targets))
    outcomes: list[str] = [""] * len(targets)

    def attempt(index: int, target: tuple[str, str]) -> None:
        try:
            contact = Contact.objects.get(pk=contact_id)
            barrier.wait(timeout=10)
            row = lifecycle.transition(contact, *target, source=Source.CCE)
            outcomes[index] = row.rule if row else "no-op"
        except TransitionRefused:
            outcomes[index] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class RaceTests:
    def test_it_lets_exactly_one_of_cancel_succeeded_and_routed_win(self):
        feed = Feed.objects.create(id=100, name="tasks", type=FeedType.TASK)
        winners = {"T7": 0, "T8": 0}
        for _ in range(200):
            contact = lifecycle.create("task", feed, name="race", script_selector="Sales")
            Contact.objects.filter(pk=contact.pk).update(state=CANCELLING[0], reason=CANCELLING[1])
            outcomes = race(contact.pk, [CANCELLED, RESERVED])
            assert sorted(outcomes) in (["T7", "refused"], ["T8", "refused"]), outcomes
            history = list(contact.transitions.exclude(rule="T1").values_list("rule", flat=True))
            assert len(history) == 1
            winner = history[0]
            winners[winner] += 1
            contact.refresh_from_db()
            assert contact.pair == (CANCELLED if winner == "T7" else RESERVED)
        assert sum(winners.values()) == 200

    def test_it_records_one_move_when_two_workers_make_the_same_one(self):
        feed = Feed.objects.create(id=100, name="tasks", type=FeedType.TASK)
        for _ in range(50):
            contact = lifecycle.create("task", feed, name="dup", script_selector="Sales")
            outcomes = race(contact.pk, [("queued", "EXTERNALLY_ROUTED")] * 2)
            assert sorted(outcomes) == ["T2", "no-op"], outcomes
            assert contact.transitions.filter(rule="T2").count() == 1
