"""The throttle of spec §6: at most N admissions in any window, across workers; the backlog in arrival order;
a full backlog (or size 0) discards the newest arrivals with NOTIFICATION_RATE_LIMITED.

`ThrottleTests` call the submit step directly; `ThrottleWorkerTests` run two real workers on Redis and
check every sliding window from the `Transition` timestamps in the database.
"""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.cce import actions, throttle
from contacts.cce.models import AdmissionClaim, Agent, CceSettings, DialedNumber, MediaRoutingDomain
from contacts.core import lifecycle
from contacts.core.lifecycle import Source
from contacts.core.models import Contact, Feed, Transition
from tests.polling import wait_for

UNREAD = ("unread", "")
RATE_LIMITED = ("discarded", "NOTIFICATION_RATE_LIMITED")
TASK_QUEUED = ("queued", "EXTERNALLY_ROUTED")


@pytest.fixture
def demo(db) -> None:
    call_command("seed_demo", stdout=io.StringIO())


def limit(per_window: int, backlog: int = 10000) -> None:
    CceSettings.objects.filter(pk=1).update(throttle_per_minute=per_window, backlog_size=backlog)


def arrive(count: int, selector: str = "Waiting") -> list[Contact]:
    """Contacts accepted by the API, in arrival order (their submit messages are not run here)."""
    feed = Feed.objects.get(pk=100)
    return [lifecycle.create("task", feed, name=str(i), title="t", script_selector=selector) for i in range(count)]


def pairs(contacts: list[Contact]) -> list[tuple[str, str]]:
    found = dict(Contact.objects.filter(pk__in=[c.pk for c in contacts]).values_list("pk", "state"))
    reasons = dict(Contact.objects.filter(pk__in=[c.pk for c in contacts]).values_list("pk", "reason"))
    return [(found[c.pk], reasons[c.pk]) for c in contacts]


def age_admissions(seconds: float) -> None:
    """Move every admission `seconds` into the past: the window has moved on by that much."""
    for row in Transition.objects.filter(from_state="unread"):
        Transition.objects.filter(pk=row.pk).update(created_at=row.created_at - timedelta(seconds=seconds))


def admission_times() -> list:
    return sorted(throttle.admissions_since(timezone.now() - timedelta(days=1)).values_list("created_at", flat=True))


def most_in_any_window(times: list, window: timedelta) -> int:
    """The most admissions in any window (t − window, t]; the busiest window ends at an admission."""
    return max((sum(1 for other in times if t - window < other <= t) for t in times), default=0)


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
class ThrottleTests:
    def test_it_submits_only_as_many_as_the_limit_and_keeps_the_rest_unread(self):
        limit(2)
        contacts = arrive(5)
        actions.submit(contacts[-1].pk)
        assert pairs(contacts) == [TASK_QUEUED] * 2 + [UNREAD] * 3
        assert throttle.backlog_length() == 3

    def test_it_drains_the_backlog_in_arrival_order_as_the_window_frees(self):
        limit(2)
        contacts = arrive(5)
        actions.submit(contacts[0].pk)
        actions.drain_backlog()  # nothing has left the window yet
        assert pairs(contacts).count(UNREAD) == 3
        age_admissions(61)
        actions.drain_backlog()
        assert pairs(contacts) == [TASK_QUEUED] * 4 + [UNREAD]
        queued = Transition.objects.filter(rule="T2").order_by("id").values_list("contact_id", flat=True)
        assert list(queued) == [contact.pk for contact in contacts[:4]]

    def test_it_discards_the_newest_arrivals_beyond_a_full_backlog(self):
        limit(2, backlog=3)
        contacts = arrive(8)
        actions.submit(contacts[0].pk)
        assert pairs(contacts) == [TASK_QUEUED] * 2 + [UNREAD] * 3 + [RATE_LIMITED] * 3
        assert Transition.objects.filter(to_reason="NOTIFICATION_RATE_LIMITED").first().rule == "T5"
        later = arrive(1)  # the backlog is still full: the newest arrival goes
        actions.submit(later[0].pk)
        assert pairs(later) == [RATE_LIMITED]

    def test_it_discards_at_once_over_the_rate_when_the_backlog_size_is_0(self):
        limit(1, backlog=0)
        first, second = arrive(2, "Sales")
        actions.submit(first.pk)
        assert pairs([first, second]) == [TASK_QUEUED, RATE_LIMITED]

    def test_it_discards_a_callback_as_C4(self):
        limit(1, backlog=0)
        Agent.objects.update(ready=False)
        feed = Feed.objects.get(pk=200)
        first, second = [lifecycle.create("callback", feed, media_address="+1555") for _ in range(2)]
        actions.submit(second.pk)
        assert pairs([first, second]) == [("queued", "EXTERNALLY_HANDLED"), RATE_LIMITED]
        assert second.transitions.last().rule == "C4"

    def test_it_counts_every_answer_of_the_cce_but_not_cancels_or_rate_limits(self):
        limit(3, backlog=0)
        rejected, cancelled = arrive(2, "NoScript")
        queued = arrive(1, "Waiting")[0]
        lifecycle.transition(cancelled, "queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED", source=Source.API)
        actions.submit(rejected.pk)
        CceSettings.objects.filter(pk=1).update(connection_up=False)
        disconnected = arrive(1)
        actions.drain_backlog()
        assert pairs([rejected, queued, *disconnected]) == [
            ("discarded", "NOTIFICATION_NO_SCRIPT"), TASK_QUEUED, ("discarded", "NOTIFICATION_CCE_CONNECTION_FAILURE")
        ]
        assert throttle.usage().used == 3
        late = arrive(1)
        actions.drain_backlog()
        assert pairs(late) == [RATE_LIMITED] and throttle.usage().used == 3  # a rate-limit discard does not count

    def test_it_admits_everything_when_the_limit_is_0(self):
        limit(0, backlog=0)
        contacts = arrive(120)
        actions.submit(contacts[0].pk)
        assert pairs(contacts) == [TASK_QUEUED] * 120

    def test_it_does_nothing_for_a_contact_already_submitted(self):
        limit(1, backlog=5)
        first, second = arrive(2)
        assert actions.submit(first.pk) == 1
        assert actions.submit(first.pk) == 0  # a redelivered message: the backlog is left to the reconciler
        assert pairs([first, second]) == [TASK_QUEUED, UNREAD]

    def test_it_creates_the_settings_row_if_nobody_has(self):
        CceSettings.objects.all().delete()
        contacts = arrive(3, "Sales")
        actions.submit(contacts[0].pk)
        assert CceSettings.objects.filter(pk=1).exists() and pairs(contacts) == [TASK_QUEUED] * 3

    def test_it_reports_the_window_and_the_backlog(self, settings):
        settings.CCE_THROTTLE_WINDOW_SECONDS = 30
        limit(2, backlog=7)
        actions.submit(arrive(3)[0].pk)
        assert throttle.usage() == throttle.Usage(
            limit=2, window_seconds=30, used=2, backlog_length=1, backlog_size=7
        )


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
class ClaimTests:
    """Admission in two steps: claims made under the settings lock, answered after it."""

    def claim(self, count: int) -> list[int]:
        with transaction.atomic():
            throttle.free_capacity(throttle.lock_settings())
            return throttle.claim(count)

    def test_a_claim_counts_against_the_rate_and_leaves_the_backlog_until_it_is_answered(self):
        limit(3)
        contacts = arrive(3)
        assert self.claim(2) == [contacts[0].pk, contacts[1].pk]  # as if the claimer were still deciding
        assert throttle.free_capacity(CceSettings.load()) == 1
        assert list(throttle.backlog()) == [contacts[2]]
        assert throttle.usage().used == 2 and throttle.usage().backlog_length == 1
        assert pairs(contacts) == [UNREAD] * 3
        assert actions.answer_claims() == 2
        assert pairs(contacts) == [TASK_QUEUED, TASK_QUEUED, UNREAD]
        assert not AdmissionClaim.objects.exists()
        assert throttle.free_capacity(CceSettings.load()) == 1  # now counted from their transitions

    def test_the_oldest_claims_are_answered_first_whoever_claimed_them(self):
        limit(10)
        contacts = arrive(4)
        self.claim(2)
        self.claim(2)
        assert actions.answer_claims(limit=2) == 2
        assert pairs(contacts) == [TASK_QUEUED, TASK_QUEUED, UNREAD, UNREAD]
        assert actions.answer_claims(limit=2) == 2
        entered = Contact.objects.filter(pk__in=[c.pk for c in contacts]).order_by("queue_entered_at")
        assert list(entered) == contacts

    def test_a_claimed_contact_cancelled_before_its_answer_keeps_its_cancel_and_drops_its_claim(self):
        limit(10)
        contact = arrive(1)[0]
        self.claim(1)
        contact.refresh_from_db()
        lifecycle.transition(contact, "queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED", source=Source.API)
        assert actions.answer_claims() == 0
        assert pairs([contact]) == [("queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED")]
        assert not AdmissionClaim.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("demo")
class AdmissionLockTests:
    def test_decide_runs_while_another_worker_may_take_the_settings_lock(self, monkeypatch):
        """The settings lock is free while contacts are decided, so other workers count and claim meanwhile."""
        limit(10)
        contacts = arrive(3)
        seen = []
        decide = actions.decide

        def try_the_settings_lock() -> None:
            try:
                with transaction.atomic():
                    CceSettings.objects.select_for_update(nowait=True).get(pk=CceSettings.SINGLETON_ID)
                seen.append("free")
            except DatabaseError:
                seen.append("held")
            finally:
                connection.close()

        def deciding(contact, lookups=None):
            other = threading.Thread(target=try_the_settings_lock)
            other.start()
            other.join()
            return decide(contact, lookups)

        monkeypatch.setattr(actions, "decide", deciding)
        assert actions.drain_backlog() == 3
        assert seen == ["free"] * 3
        assert pairs(contacts) == [TASK_QUEUED] * 3


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
class BatchAdmissionTests:
    def test_a_batch_costs_as_many_queries_for_40_contacts_as_for_4(self):
        limit(0)

        def queries_to_admit(count: int) -> int:
            contacts = arrive(count, "Sales")
            with CaptureQueriesContext(connection) as queries:
                assert actions._admit_unthrottled(50) == count
            assert pairs(contacts) == [TASK_QUEUED] * count
            return len(queries)

        assert queries_to_admit(4) == queries_to_admit(40)

    def test_each_contact_of_a_batch_gets_its_own_answer_and_transition(self):
        limit(0)
        MediaRoutingDomain.objects.filter(pk=DialedNumber.objects.get(string="Sales").mrd_id).update(
            max_tasks_in_queue=2
        )
        contacts = arrive(3, "Sales") + arrive(1, "Nowhere")
        assert actions._admit_unthrottled(50) == 4
        assert pairs(contacts) == [
            TASK_QUEUED, TASK_QUEUED, ("discarded", "NOTIFICATION_ROUTER_RELEASED_TASK"),
            ("discarded", "NOTIFICATION_INVALID_SCRIPT_SELECTOR"),
        ]
        assert [list(contact.transitions.values_list("rule", flat=True)) for contact in contacts] == [
            ["T1", "T2"], ["T1", "T2"], ["T1", "T5"], ["T1", "T5"]
        ]
        queued = Contact.objects.filter(pk__in=[contacts[0].pk, contacts[1].pk]).order_by("pk")
        assert [contact.estimated_wait for contact in queued] == [0, 0]  # Sales has free agents
        assert all(contact.cce_script_selector == "Sales" and contact.cce_mrd_id for contact in queued)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("demo")
class ThrottleWorkerTests:
    WINDOW = 1.0

    def test_it_never_admits_more_than_the_limit_in_any_window_with_two_workers(self, start_worker):
        limit(4)
        window = {"CCE_THROTTLE_WINDOW_SECONDS": str(self.WINDOW)}
        start_worker(beat=True, **window)
        start_worker(beat=False, **window)
        contacts = arrive(22)
        wait_for(lambda: UNREAD not in pairs(contacts), timeout=60, what="the backlog drained")
        assert set(pairs(contacts)) == {TASK_QUEUED}
        assert most_in_any_window(admission_times(), timedelta(seconds=self.WINDOW)) == 4  # full, never over
        admitted = Transition.objects.filter(rule="T2").order_by("created_at", "id")
        assert list(admitted.values_list("contact_id", flat=True)) == [contact.pk for contact in contacts]

    def test_it_discards_what_a_full_backlog_cannot_keep_and_submits_the_rest_later(self, start_worker):
        limit(2, backlog=3)
        start_worker(CCE_THROTTLE_WINDOW_SECONDS="2")
        with transaction.atomic():  # all eight arrive at once, before the first drain
            contacts = arrive(8)
        wait_for(lambda: UNREAD not in pairs(contacts), timeout=30, what="the backlog drained")
        assert pairs(contacts) == [TASK_QUEUED] * 5 + [RATE_LIMITED] * 3
        assert most_in_any_window(admission_times(), timedelta(seconds=2)) <= 2

    def test_it_discards_at_once_over_the_rate_when_the_backlog_size_is_0(self, worker):
        limit(1, backlog=0)
        first = arrive(1, "Sales")[0]
        wait_for(lambda: pairs([first]) != [UNREAD])
        second = arrive(1, "Sales")[0]
        wait_for(lambda: pairs([second]) == [RATE_LIMITED])
        assert [row.rule for row in second.transitions.all()] == ["T1", "T5"]
