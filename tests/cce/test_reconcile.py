"""The reconciler redoes what a lost message left undone; with every worker SIGKILLed in the middle of a
200-contact run, each contact still ends where the contract allows, by legal and undoubled moves.

`ReconcilerTests` call `reconcile()` directly on contacts whose messages were never run (as if lost);
`ReconcilerRaceTests` run two reconcilers at once on two connections (PostgreSQL only: SQLite
serialises writers); `KilledWorkerTests` kill real workers (tests/workers.py `kill_worker`).
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from ccpdash.beat import BeatLock
from contacts.cce import actions, tasks, throttle
from contacts.cce import reconcile as reconciler
from contacts.cce.models import AdmissionClaim, AgentAssignment, CceSettings
from contacts.cce.reconcile import reconcile
from contacts.core import lifecycle
from contacts.core.lifecycle import NEW, Pair, Source, TransitionRefused
from contacts.core.models import Contact, Feed, Transition
from tests.polling import wait_for

UNREAD = ("unread", "")
TASK_QUEUED = ("queued", "EXTERNALLY_ROUTED")
RENOTIFYING = ("queued", "TASK_RENOTIFY_REQUESTED")
HANDLED = ("handled", "EXTERNALLY_HANDLED")
TASK_CANCELLED = ("discarded", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED")
UNKNOWN_ERROR = ("discarded", "NOTIFICATION_UNKNOWN_ERROR")
# The rules a contact may take more than once: one renotify (T9) and its answer (T10/T11) per attempt.
REPEATABLE = {"T9", "T10", "T11"}


@pytest.fixture
def demo(db) -> None:
    call_command("seed_demo", stdout=io.StringIO())


def task(selector: str = "Waiting") -> Contact:
    return lifecycle.create("task", Feed.objects.get(pk=100), name="n", title="t", script_selector=selector)


def pair_of(contact: Contact) -> tuple[str, str]:
    return tuple(Contact.objects.filter(pk=contact.pk).values_list("state", "reason").get())


def renotify(contact: Contact) -> None:
    contact.refresh_from_db()
    lifecycle.transition(contact, *RENOTIFYING, source=Source.API)


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
class ReconcilerTests:
    def test_it_submits_contacts_whose_submit_message_was_lost(self):
        contacts = [task() for _ in range(3)]
        assert reconcile()["submitted"] == 3
        assert [pair_of(contact) for contact in contacts] == [TASK_QUEUED] * 3

    def test_it_drains_only_briefly_leaving_the_rest_to_the_next_run(self, monkeypatch):
        monkeypatch.setattr(actions, "SUBMIT_BATCH", 2)
        monkeypatch.setattr(reconciler, "RECONCILE_DRAIN_SECONDS", 0)  # one round, whatever the backlog
        contacts = [task() for _ in range(5)]
        assert reconcile()["submitted"] == 2
        assert reconcile()["submitted"] == 2
        assert [pair_of(contact) for contact in contacts].count(TASK_QUEUED) == 4

    def test_it_hands_what_it_cannot_drain_briefly_to_the_live_workers(self, monkeypatch):
        monkeypatch.setattr(actions, "SUBMIT_BATCH", 2)
        monkeypatch.setattr(reconciler, "RECONCILE_DRAIN_SECONDS", 0)
        sent = []
        monkeypatch.setattr(tasks.drain_backlog, "delay", lambda: sent.append("drain"))
        contacts = [task() for _ in range(5)]
        assert reconcile()["submitted"] == 2
        assert sent == ["drain"] * reconciler.DRAIN_HANDOFFS
        tasks.drain_backlog()  # what one of those messages does on a live worker
        assert [pair_of(contact) for contact in contacts] == [TASK_QUEUED] * 5
        sent.clear()
        assert reconcile()["submitted"] == 0 and sent == []  # nothing left, nothing handed off

    def test_a_run_that_finds_another_still_going_does_nothing(self, settings):
        contact = task()
        other = BeatLock(tasks._redis(), f"{settings.REDIS_PREFIX}:reconcile-lock", 30)
        assert other.hold()
        try:
            tasks.reconcile()
            assert pair_of(contact) == UNREAD
        finally:
            other.release()
        tasks.reconcile()
        assert pair_of(contact) == TASK_QUEUED

    def test_it_resumes_a_renotify_whose_message_was_lost_once_it_is_stale(self, settings):
        settings.CCE_RECONCILE_AFTER_SECONDS = 5
        contact = task("Faulty")
        actions.submit(contact.pk)
        renotify(contact)
        assert reconcile()["renotified"] == 0 and pair_of(contact) == RENOTIFYING  # its own task may still run
        assert reconcile(now=timezone.now() + timedelta(seconds=5))["renotified"] == 1
        contact.refresh_from_db()
        assert contact.pair == UNKNOWN_ERROR and contact.attempt == 2
        assert list(contact.transitions.values_list("rule", flat=True)) == ["T1", "T5", "T9", "T11"]

    def test_it_does_nothing_when_nothing_was_lost(self):
        actions.submit(task("Sales").pk)
        assert reconcile() == {"disconnected": 0, "submitted": 0, "claims_answered": 0, "renotified": 0}

    def test_it_answers_the_claims_a_killed_worker_left_once_they_are_stale(self, settings):
        settings.CCE_RECONCILE_AFTER_SECONDS = 5
        CceSettings.objects.filter(pk=1).update(throttle_per_minute=10)
        contacts = [task() for _ in range(2)]
        with transaction.atomic():  # the first step of an admission, whose worker then died
            throttle.free_capacity(throttle.lock_settings())
            throttle.claim(2)
        assert reconcile()["claims_answered"] == 0  # its claimer may still be deciding
        assert [pair_of(contact) for contact in contacts] == [UNREAD, UNREAD]
        assert reconcile(now=timezone.now() + timedelta(seconds=5))["claims_answered"] == 2
        assert [pair_of(contact) for contact in contacts] == [TASK_QUEUED, TASK_QUEUED]
        assert not AdmissionClaim.objects.exists()

    def test_it_leaves_the_backlog_to_the_throttle(self):
        CceSettings.objects.filter(pk=1).update(throttle_per_minute=2)
        contacts = [task() for _ in range(3)]
        reconcile()
        reconcile()
        assert [pair_of(contact) for contact in contacts] == [TASK_QUEUED, TASK_QUEUED, UNREAD]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("demo")
class ReconcilerRaceTests:
    def test_it_moves_each_contact_once_when_two_reconcilers_run_at_once(self, settings):
        settings.CCE_RECONCILE_AFTER_SECONDS = 0
        stale = [task("Faulty") for _ in range(10)]
        for contact in stale:
            actions.submit(contact.pk)
            renotify(contact)
        fresh = [task() for _ in range(60)]
        barrier = threading.Barrier(2)

        def run() -> None:
            try:
                barrier.wait(timeout=10)
                reconcile()
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert {pair_of(contact) for contact in fresh} == {TASK_QUEUED}
        assert {pair_of(contact) for contact in stale} == {UNKNOWN_ERROR}
        rules = Counter(Transition.objects.values_list("contact_id", "rule"))
        assert max(rules.values()) == 1


# A demo-like run: (feed, script selector, cancel it at once) → the final pairs the contract allows.
MIX = [
    (100, "Sales", False, {HANDLED}),
    (100, "Support", False, {HANDLED}),
    (100, "Sales", True, {HANDLED, TASK_CANCELLED}),  # the cancel wins, or routing does (T8), or it came late
    (100, "Release", False, {("discarded", "NOTIFICATION_ROUTER_RELEASED_TASK")}),
    (100, "Faulty", False, {UNKNOWN_ERROR}),  # some are renotified (T9, T11) just before the kill
    (200, "", False, {HANDLED}),
    (201, "", False, {("discarded", "NOTIFICATION_INVALID_MRD_ID")}),
    (100, "Sales", False, {HANDLED}),
    (200, "", True, {HANDLED, ("discarded", "NOTIFICATION_CCE_CALLBACK_CANCEL_SUCCEEDED")}),
    (100, "Support", False, {HANDLED}),
]
CANCEL = {"task": "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED", "callback": "NOTIFICATION_CCE_CALLBACK_CANCEL_REQUESTED"}
# Tiny time scales, a cancel latency that lets routing race the cancel, and a throttle window of one
# second (with 15 per window) so that a backlog is waiting in `unread` when the workers die.
RUN_ENV = {"CCE_THROTTLE_WINDOW_SECONDS": "1", "CCE_CANCEL_LATENCY_SECONDS": "0.2", "CCE_HANDLE_TIME_SCALE": "0.02"}


def send(count: int) -> list[tuple[Contact, set]]:
    sent = []
    for i in range(count):
        feed_id, selector, cancel, finals = MIX[i % len(MIX)]
        feed = Feed.objects.get(pk=feed_id)
        contact = lifecycle.create(feed.kind, feed, name=str(i), title="t", script_selector=selector,
                                   media_address="+1555")
        if cancel:
            try:
                contact.refresh_from_db()
                lifecycle.transition(contact, "queued", CANCEL[contact.kind], source=Source.API)
            except TransitionRefused:
                pass  # a worker routed it first: the cancel comes too late, as a DELETE would answer 400
        sent.append((contact, finals))
    return sent


def settled(sent: list[tuple[Contact, set]]) -> int:
    now = dict(Contact.objects.filter(pk__in=[c.pk for c, _ in sent]).values_list("pk", "state"))
    reasons = dict(Contact.objects.filter(pk__in=[c.pk for c, _ in sent]).values_list("pk", "reason"))
    return sum((now[c.pk], reasons[c.pk]) in finals for c, finals in sent)


def check_history(contact: Contact) -> None:
    """Every move is a row of the table, each starts where the previous one ended, none is doubled."""
    rows = list(contact.transitions.order_by("id"))
    at = NEW
    for row in rows:
        assert row.from_pair == at, (contact.pk, [r.rule for r in rows])
        assert lifecycle.rule_for(contact.kind, row.from_pair, row.to_pair) == row.rule, (contact.pk, row)
        at = row.to_pair
    assert at == Pair(contact.state, contact.reason)
    rules = Counter(row.rule for row in rows)
    assert all(count == 1 for rule, count in rules.items() if rule not in REPEATABLE), (contact.pk, rules)
    assert rules["T9"] == rules["T10"] + rules["T11"], (contact.pk, rules)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("demo")
class KilledWorkerTests:
    def test_it_brings_every_contact_home_after_every_worker_was_killed_mid_run(self, start_worker, kill_worker):
        CceSettings.objects.filter(pk=1).update(throttle_per_minute=15)
        workers = [start_worker(beat=True, **RUN_ENV), start_worker(beat=False, **RUN_ENV)]
        sent = send(200)
        wait_for(lambda: settled(sent) >= 50, timeout=60)
        for contact, _ in sent:  # renotify the discarded Faulty ones: their messages die with the workers
            if contact.script_selector == "Faulty" and pair_of(contact) == UNKNOWN_ERROR:
                renotify(contact)
        for worker in workers:
            kill_worker(worker)
        assert settled(sent) < 200 and Contact.objects.filter(state="unread").exists()  # killed mid-run
        start_worker(beat=True, **RUN_ENV)
        wait_for(lambda: settled(sent) == 200, timeout=120, what="every contact at a final pair")
        assert Contact.objects.filter(attempt=2).exists()  # the renotifies happened
        for contact, _ in sent:
            contact.refresh_from_db()
            check_history(contact)
        wait_for(lambda: not AgentAssignment.objects.filter(released_at=None).exists(), what="every slot free")
        routed = Transition.objects.filter(rule__in=["C3", "C7", "T3", "T8"]).count()
        assert AgentAssignment.objects.count() == routed  # one slot per routed contact, none lost or doubled
