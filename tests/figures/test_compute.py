"""The catalogue's figures computed on contacts moved through the lifecycle: counts, waits, service level, the
"today" boundary in a non-UTC zone, the unknown-MRD bucket, agents, and a query count that does not grow.

Every move a figure counts is stamped at a time relative to a fixed NOW (the lifecycle stamps the real clock).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.cce import decisions, queues, throttle
from contacts.cce.models import Agent, AgentAssignment, MediaRoutingDomain
from contacts.core import lifecycle
from contacts.core.lifecycle import Reason, Source, State
from contacts.core.models import Contact, Feed, FeedType, Transition
from contacts.figures import catalogue, compute, tallies
from contacts.figures.compute import queue_figures

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
QUEUED_REASON = {"task": Reason.EXTERNALLY_ROUTED, "callback": Reason.EXTERNALLY_HANDLED}


@pytest.fixture
def config(db, settings) -> None:
    """Feeds 100 (tasks) and 200 (callbacks); MRD 1 answers within 20 s, MRD 2 within 60 s; "today" in UTC."""
    settings.TIME_ZONE = "UTC"  # NOW is noon there; TodayTests set other zones
    Feed.objects.create(id=100, name="tasks", type=FeedType.TASK)
    Feed.objects.create(id=200, name="callbacks", type=FeedType.CALLBACK)
    MediaRoutingDomain.objects.create(id=1, name="Sales", service_level_seconds=20)
    MediaRoutingDomain.objects.create(id=2, name="Support", service_level_seconds=60)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def stamp(row: Transition | None, when: datetime) -> None:
    """Move a row to `when`, and its tally with it (the figures read the tallies, recounted from the rows)."""
    assert row is not None
    Transition.objects.filter(pk=row.pk).update(created_at=when)
    tallies.rebuild()


def new(kind: str = "task") -> Contact:
    return lifecycle.create(kind, Feed.objects.get(id=100 if kind == "task" else 200), name="Ada", title="Order")


def move(contact: Contact, state: str, reason: str, when: datetime, **changes) -> Transition:
    row = lifecycle.transition(contact, state, reason, source=Source.CCE, changes=changes or None)
    stamp(row, when)
    return row


def queued(mrd_id: int, at: datetime, kind: str = "task") -> Contact:
    """A contact the CCE queued in the MRD at `at` (C2/T2)."""
    contact = new(kind)
    move(contact, State.QUEUED, QUEUED_REASON[kind], at, cce_mrd_id=mrd_id)
    return contact


def answered(mrd_id: int, queued_at: datetime, answered_at: datetime, kind: str = "task") -> Contact:
    """Queued, then routed to an agent (T3 for a task, C3 for a callback)."""
    contact = queued(mrd_id, queued_at, kind)
    if kind == "task":
        move(contact, State.RESERVED, Reason.EXTERNALLY_ROUTED, answered_at)
    else:
        move(contact, State.HANDLED, Reason.EXTERNALLY_HANDLED, answered_at)
    return contact


def cancelled(contact: Contact, requested_at: datetime, done_at: datetime) -> None:
    """C5/T6 then C6/T7: the CCE removes it from the queue."""
    kind = contact.kind
    requested = Reason.TASK_CANCEL_REQUESTED if kind == "task" else Reason.CALLBACK_CANCEL_REQUESTED
    succeeded = Reason.TASK_CANCEL_SUCCEEDED if kind == "task" else Reason.CALLBACK_CANCEL_SUCCEEDED
    move(contact, State.QUEUED, requested, requested_at)
    move(contact, State.DISCARDED, succeeded, done_at)


def requeued(contact: Contact, left_at: datetime, back_at: datetime) -> None:
    """T9 then T10: a queued task renotified, and queued again at the back."""
    move(contact, State.QUEUED, Reason.TASK_RENOTIFY_REQUESTED, left_at)
    move(contact, State.QUEUED, Reason.EXTERNALLY_ROUTED, back_at)


def agent(mrd_id: int, agent_id: str, slots: int = 1, ready: bool = True, handle=(10, 20)) -> Agent:
    return Agent.objects.create(name=agent_id, agent_id=agent_id, mrd_id=mrd_id, ready=ready, max_concurrent=slots,
                                handle_time_min=handle[0], handle_time_max=handle[1])  # fmt: skip


def hold(agent: Agent, released: bool = False) -> AgentAssignment:
    """A slot of `agent` taken by a task routed to it (open unless `released`)."""
    contact = answered(agent.mrd_id, ago(100), ago(90))
    return AgentAssignment.objects.create(agent=agent, contact=contact, mrd_id=agent.mrd_id, started_at=ago(90),
                                          ends_at=NOW, released_at=NOW if released else None)  # fmt: skip


@pytest.mark.usefixtures("config")
class RowsTests:
    def test_it_gives_each_configured_mrd_a_row_plus_the_unknown_bucket_and_the_total(self) -> None:
        rows = queue_figures(NOW)
        assert list(rows) == [1, 2, catalogue.UNKNOWN_MRD, catalogue.TOTAL]
        for key in (1, 2, catalogue.UNKNOWN_MRD):
            assert set(rows[key]) == {*catalogue.PER_MRD_KEYS, "longest_wait_contact"}
        assert set(rows[catalogue.TOTAL]) == {*catalogue.BY_KEY, "longest_wait_contact"}

    def test_it_sums_into_the_total_row_exactly_the_figures_the_catalogue_sums(self) -> None:
        assert set(compute.SUMMED) == {figure.key for figure in catalogue.FIGURES if figure.total.startswith("sum")}

    def test_it_shows_quiet_mrds_as_zero_and_empty(self) -> None:
        row = queue_figures(NOW)[1]
        assert row["waiting"] == row["handled"] == row["left_queue"] == 0
        assert row["longest_wait"] is None and row["service_level"] is None and row["estimated_wait"] == -1


@pytest.mark.usefixtures("config")
class WaitingTests:
    def test_it_counts_waiting_contacts_but_not_cancels_in_flight_or_renotifying_tasks(self) -> None:
        cancelling, renotifying = queued(1, ago(60)), queued(1, ago(50))
        queued(1, ago(40), kind="callback")
        queued(2, ago(30))
        move(cancelling, State.QUEUED, Reason.TASK_CANCEL_REQUESTED, ago(20))
        move(renotifying, State.QUEUED, Reason.TASK_RENOTIFY_REQUESTED, ago(20))
        rows = queue_figures(NOW)
        assert (rows[1]["waiting"], rows[2]["waiting"], rows["total"]["waiting"]) == (1, 1, 2)

    def test_it_links_the_longest_wait_to_its_contact_per_mrd_and_in_total(self) -> None:
        queued(1, ago(50))
        first_in_1 = queued(1, ago(80), kind="callback")
        first_in_2 = queued(2, ago(200))
        rows = queue_figures(NOW)
        assert (rows[1]["longest_wait"], rows[1]["longest_wait_contact"]) == (80, first_in_1.public_id)
        assert (rows[2]["longest_wait"], rows[2]["longest_wait_contact"]) == (200, first_in_2.public_id)
        assert (rows["total"]["longest_wait"], rows["total"]["longest_wait_contact"]) == (200, first_in_2.public_id)

    def test_it_counts_a_requeued_tasks_wait_from_its_re_entry(self) -> None:
        renotified = queued(1, ago(600))
        requeued(renotified, ago(100), ago(90))
        steady = queued(1, ago(300))
        row = queue_figures(NOW)[1]
        assert (row["longest_wait"], row["longest_wait_contact"]) == (300, steady.public_id)

    def test_it_ignores_a_contact_whose_cancel_is_in_flight_for_the_longest_wait(self) -> None:
        leaving = queued(1, ago(500))
        move(leaving, State.QUEUED, Reason.TASK_CANCEL_REQUESTED, ago(1))
        waiting = queued(1, ago(30))
        assert queue_figures(NOW)[1]["longest_wait_contact"] == waiting.public_id


@pytest.mark.usefixtures("config")
class MoveCountTests:
    def test_it_counts_a_cancel_as_cancelled_and_never_as_discarded(self) -> None:
        cancelled(queued(1, ago(100)), ago(90), ago(88))
        cancelled(queued(1, ago(100), kind="callback"), ago(90), ago(88))
        move(new(), State.DISCARDED, Reason.NO_SCRIPT, ago(50), cce_mrd_id=1)
        rows = queue_figures(NOW)
        assert (rows[1]["cancelled"], rows[1]["discarded"]) == (2, 1)
        assert (rows["total"]["cancelled"], rows["total"]["discarded"]) == (2, 1)

    def test_it_counts_moves_into_handled_not_reservations(self) -> None:
        answered(1, ago(100), ago(90), kind="callback")  # C3: handled at once
        task = answered(1, ago(100), ago(90))  # T3: reserved, not handled yet
        assert queue_figures(NOW)[1]["handled"] == 1
        move(task, State.HANDLED, Reason.EXTERNALLY_HANDLED, ago(10))  # T4
        assert queue_figures(NOW)[1]["handled"] == 2

    def test_it_counts_each_discard_of_a_task_renotified_in_between(self) -> None:
        task = queued(1, ago(300))
        move(task, State.DISCARDED, Reason.ROUTER_RELEASED_TASK, ago(200))  # T5
        move(task, State.QUEUED, Reason.TASK_RENOTIFY_REQUESTED, ago(150))  # T9
        move(task, State.DISCARDED, Reason.NO_SCRIPT, ago(100))  # T11
        assert queue_figures(NOW)[1]["discarded"] == 2

    def test_it_counts_only_moves_of_the_window(self) -> None:
        answered(1, ago(100), NOW + timedelta(seconds=1), kind="callback")  # after `now`
        answered(1, ago(100), ago(13 * 3600), kind="callback")  # before midnight (NOW is noon UTC)
        answered(1, ago(100), ago(11 * 3600), kind="callback")
        assert queue_figures(NOW)[1]["handled"] == 1


@pytest.mark.usefixtures("config")
class ServiceLevelTests:
    def test_it_measures_each_answer_against_its_own_mrds_threshold(self) -> None:
        answered(1, ago(100), ago(90))  # 10 s: within MRD 1's 20 s
        answered(1, ago(100), ago(80))  # 20 s: within (at most the threshold)
        answered(1, ago(100), ago(70))  # 30 s: outside
        cancelled(queued(1, ago(100)), ago(95), ago(94))  # left unanswered
        answered(2, ago(100), ago(60), kind="callback")  # 40 s: within MRD 2's 60 s
        answered(2, ago(100), ago(50), kind="callback")  # 50 s: within
        move(queued(2, ago(100)), State.DISCARDED, Reason.ROUTER_RELEASED_TASK, ago(40))  # left unanswered
        queued(2, ago(100))  # still waiting: not in the service level yet
        rows = queue_figures(NOW)
        assert (rows[1]["answered_in_threshold"], rows[1]["left_queue"], rows[1]["service_level"]) == (2, 4, 0.5)
        assert (rows[2]["answered_in_threshold"], rows[2]["left_queue"]) == (2, 3)
        assert rows[2]["service_level"] == pytest.approx(2 / 3)
        assert rows["total"]["service_level"] == pytest.approx(4 / 7)

    def test_it_judges_each_answer_against_the_threshold_the_admin_had_set_when_it_was_answered(self) -> None:
        # In real time, never restamped: the tallies record each answer as it happens.
        def answer_now() -> None:
            contact = new("callback")
            lifecycle.transition(contact, State.QUEUED, Reason.EXTERNALLY_HANDLED, source=Source.CCE,
                                 changes={"cce_mrd_id": 2})
            lifecycle.transition(contact, State.HANDLED, Reason.EXTERNALLY_HANDLED, source=Source.CCE)

        later = timezone.now() + timedelta(minutes=1)
        answer_now()  # waited milliseconds: within MRD 2's 60 s
        MediaRoutingDomain.objects.filter(pk=2).update(service_level_seconds=0)
        answer_now()  # waited milliseconds: not within 0 s
        row = queue_figures(later)[2]
        assert (row["answered_in_threshold"], row["left_queue"]) == (1, 2)
        tallies.rebuild()  # a recount judges what it recounts against the thresholds in force now
        row = queue_figures(later)[2]
        assert (row["answered_in_threshold"], row["left_queue"]) == (0, 2)

    def test_it_counts_a_renotified_tasks_answer_from_its_re_entry(self) -> None:
        task = queued(1, ago(300))
        requeued(task, ago(200), ago(15))  # T9 leaves the queue; T10 re-enters it
        move(task, State.RESERVED, Reason.EXTERNALLY_ROUTED, ago(5))  # 10 s after the re-entry
        row = queue_figures(NOW)[1]
        assert (row["answered_in_threshold"], row["left_queue"]) == (1, 2)

    def test_it_counts_routing_that_beat_a_cancel_as_answered(self) -> None:
        task = queued(1, ago(100))
        move(task, State.QUEUED, Reason.TASK_CANCEL_REQUESTED, ago(95))
        move(task, State.RESERVED, Reason.EXTERNALLY_ROUTED, ago(85))  # T8, 15 s after it was queued
        row = queue_figures(NOW)[1]
        assert (row["answered_in_threshold"], row["left_queue"], row["cancelled"]) == (1, 1, 0)

    def test_it_leaves_the_service_level_empty_when_nothing_left_the_queue(self) -> None:
        queued(1, ago(100))
        rows = queue_figures(NOW)
        assert rows[1]["service_level"] is None and rows["total"]["service_level"] is None


@pytest.mark.usefixtures("config")
class TodayTests:
    def test_it_starts_today_at_midnight_in_time_zone_not_in_utc(self) -> None:
        now = datetime(2025, 1, 15, 3, 0, tzinfo=UTC)  # 22:00 on the 14th in New York (UTC−5)
        for when in (datetime(2025, 1, 14, 4, 30, tzinfo=UTC),  # 23:30 on the 13th in New York
                     datetime(2025, 1, 14, 6, 0, tzinfo=UTC),  # 01:00 on the 14th in New York
                     datetime(2025, 1, 15, 1, 0, tzinfo=UTC)):  # 20:00 on the 14th in New York
            answered(1, when - timedelta(seconds=5), when, kind="callback")  # fmt: skip
        with override_settings(TIME_ZONE="America/New_York"):
            assert queue_figures(now)["total"]["handled"] == 2
        with override_settings(TIME_ZONE="UTC"):
            assert queue_figures(now)["total"]["handled"] == 1


@pytest.mark.usefixtures("config")
class UnknownMrdTests:
    def test_it_puts_contacts_outside_the_configuration_in_one_bucket(self) -> None:
        # A callback feed whose notification names MRD 9999: the CCE discards it (C4).
        move(new("callback"), State.DISCARDED, Reason.INVALID_MRD_ID, ago(10), cce_mrd_id=9999)
        lost = queued(4242, ago(40))  # its MRD was deleted since
        new()  # unread: no MRD yet
        rows = queue_figures(NOW)
        assert 9999 not in rows and 4242 not in rows
        unknown = rows[catalogue.UNKNOWN_MRD]
        assert (unknown["discarded"], unknown["waiting"], unknown["longest_wait_contact"]) == (1, 1, lost.public_id)
        assert (rows["total"]["discarded"], rows["total"]["waiting"], rows["total"]["backlog"]) == (1, 1, 1)


@pytest.mark.usefixtures("config")
class AgentTests:
    def test_it_counts_ready_agents_and_the_slots_they_have_free(self) -> None:
        busy = agent(1, "1001", slots=3)
        hold(busy)
        hold(busy, released=True)
        overfull = agent(1, "1002", slots=1)  # an admin lowered its slots below what it holds
        hold(overfull)
        hold(overfull)
        agent(1, "1003", slots=2, ready=False)
        agent(2, "2001", slots=2)
        rows = queue_figures(NOW)
        assert (rows[1]["ready_agents"], rows[1]["free_slots"]) == (2, 2)
        assert (rows[2]["ready_agents"], rows[2]["free_slots"]) == (1, 2)
        assert (rows["total"]["ready_agents"], rows["total"]["free_slots"]) == (3, 4)

    @override_settings(CCE_HANDLE_TIME_SCALE=1)
    def test_it_estimates_the_wait_of_a_contact_joining_each_queue_now(self) -> None:
        hold(agent(1, "1001", handle=(10, 20)))
        agent(1, "1002", handle=(20, 40))
        agent(2, "2001", ready=False)
        queued(1, ago(30))
        queued(1, ago(20), kind="callback")
        move(queued(1, ago(10)), State.QUEUED, Reason.TASK_CANCEL_REQUESTED, ago(5))  # still ahead of a newcomer
        rows = queue_figures(NOW)
        # a = 3 in the queue, free = 1 of s = 2 slots, h = (15 + 30) / 2.
        assert rows[1]["estimated_wait"] == math.ceil((3 - 1 + 1) * 22.5 / 2) == 34
        assert rows[1]["estimated_wait"] == decisions.estimate_wait(queues.capacity(1), queues.in_queue(1).count())
        assert rows[2]["estimated_wait"] == -1  # no ready agent
        assert rows["total"]["estimated_wait"] == 34

    def test_it_reports_the_throttle_backlog_in_the_total_only(self) -> None:
        new()
        new("callback")
        move(new(), State.QUEUED, Reason.TASK_CANCEL_REQUESTED, ago(5))  # cancelled before submission: not waiting
        rows = queue_figures(NOW)
        assert rows["total"]["backlog"] == throttle.backlog_length() == 2
        assert "backlog" not in rows[1]


def bulk(count: int) -> None:
    """Fixture data straight to the tables (the product moves contacts through the lifecycle): `count`
    contacts cycling through waiting, answered, handled, cancelled, discarded and unread, in MRDs 1, 2, 9999."""
    feed = Feed.objects.get(id=100)
    plans = [  # (final pair, [(from pair, to pair, seconds ago)])
        (("queued", "EXTERNALLY_ROUTED"), [(("unread", ""), ("queued", "EXTERNALLY_ROUTED"), 50)]),
        (("reserved", "EXTERNALLY_ROUTED"), [(("unread", ""), ("queued", "EXTERNALLY_ROUTED"), 50),
                                             (("queued", "EXTERNALLY_ROUTED"), ("reserved", "EXTERNALLY_ROUTED"), 40)]),
        (("discarded", Reason.TASK_CANCEL_SUCCEEDED), [
            (("unread", ""), ("queued", "EXTERNALLY_ROUTED"), 50),
            (("queued", "EXTERNALLY_ROUTED"), ("queued", Reason.TASK_CANCEL_REQUESTED), 40),
            (("queued", Reason.TASK_CANCEL_REQUESTED), ("discarded", Reason.TASK_CANCEL_SUCCEEDED), 30)]),
        (("discarded", Reason.NO_SCRIPT), [(("unread", ""), ("discarded", Reason.NO_SCRIPT), 50)]),
        (("unread", ""), []),
    ]  # fmt: skip
    contacts = Contact.objects.bulk_create(
        [Contact(kind="task", feed=feed, state=plans[i % len(plans)][0][0], reason=plans[i % len(plans)][0][1],
                 cce_mrd_id=(1, 2, 9999)[i % 3], name=f"c{i}") for i in range(count)],
        batch_size=2000,
    )  # fmt: skip
    rows = [
        Transition(contact=contact, rule="X", from_state=f[0], from_reason=f[1], to_state=t[0], to_reason=t[1],
                   source=Source.CCE, created_at=ago(seconds))
        for i, contact in enumerate(contacts) for f, t, seconds in plans[i % len(plans)][1]
    ]  # fmt: skip
    Transition.objects.bulk_create(rows, batch_size=2000)
    tallies.rebuild()  # rows written straight to the table: their tallies too


@pytest.mark.usefixtures("config")
class QueryCountTests:
    def test_it_makes_the_same_number_of_queries_for_10_and_1000_contacts(self) -> None:
        for mrd_id in (1, 2):
            agent(mrd_id, f"{mrd_id}001", slots=2)
        counts, waiting = [], []
        for size in (10, 1000):
            Contact.objects.all().delete()
            bulk(size)
            with CaptureQueriesContext(connection) as queries:
                rows = queue_figures(NOW)
            counts.append(len(queries))
            waiting.append(rows["total"]["waiting"])
            assert rows["total"]["cancelled"] == rows["total"]["waiting"] == Contact.objects.filter(
                state="queued").count()  # fmt: skip
        assert counts[0] == counts[1] == 5
        assert waiting == [2, 200]
