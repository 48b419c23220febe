"""MR PG connection loss, CCP restart, MRD queue maximum and task life (spec §3 "Connection loss" and
"Recovery", §5), each through the admin and a real worker.

The recovery tables put one contact of each kind in every position first (no worker runs yet, so
nothing moves), apply the admin action, check where the action left each contact, then start a worker
and check where each one ends. The worker starts with an empty queue: the follow-ups the action
enqueued are gone, so the final column also proves that the sweep and the reconciler pick them up.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.utils import timezone

from contacts.cce import recovery, routing
from contacts.cce.models import Agent, AgentAssignment, CceSettings, MediaRoutingDomain
from contacts.cce.reconcile import reconcile
from contacts.core import lifecycle
from contacts.core.lifecycle import Source
from contacts.core.models import Contact, Feed, Transition
from tests.polling import wait_for

UNREAD = ("unread", "")
CB_QUEUED = ("queued", "EXTERNALLY_HANDLED")
TASK_QUEUED = ("queued", "EXTERNALLY_ROUTED")
RENOTIFYING = ("queued", "TASK_RENOTIFY_REQUESTED")
RESERVED = ("reserved", "EXTERNALLY_ROUTED")
HANDLED = ("handled", "EXTERNALLY_HANDLED")
CANCELLING = {"task": ("queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED"),
              "callback": ("queued", "NOTIFICATION_CCE_CALLBACK_CANCEL_REQUESTED")}
TASK_CANCELLED = ("discarded", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED")
CB_CANCELLED = ("discarded", "NOTIFICATION_CCE_CALLBACK_CANCEL_SUCCEEDED")
NO_SCRIPT = ("discarded", "NOTIFICATION_NO_SCRIPT")
INVALID_MRD = ("discarded", "NOTIFICATION_INVALID_MRD_ID")
DISCONNECTED = ("discarded", "NOTIFICATION_CCE_CONNECTION_FAILURE")
FAILED_OVER = ("discarded", "NOTIFICATION_CCE_CCP_FAILOVER")
RELEASED = ("discarded", "NOTIFICATION_ROUTER_RELEASED_TASK")

# How each position is reached, by legal moves: task (MRD 5002 "Waiting", no agent ready), callback (MRD 1).
TASK_IN_QUEUE = {"cce_mrd_id": 5002, "cce_script_selector": "Waiting"}
PATHS = {
    ("task", "unread"): [],
    ("task", "queued"): [(TASK_QUEUED, TASK_IN_QUEUE)],
    ("task", "renotifying"): [(TASK_QUEUED, TASK_IN_QUEUE), (RENOTIFYING, {})],
    ("task", "cancelling"): [(TASK_QUEUED, TASK_IN_QUEUE), (CANCELLING["task"], {})],
    ("task", "reserved"): [(TASK_QUEUED, TASK_IN_QUEUE)],  # then routed to Frank
    ("task", "handled"): [(TASK_QUEUED, TASK_IN_QUEUE), (RESERVED, {}), (HANDLED, {})],
    ("task", "discarded"): [(NO_SCRIPT, {})],
    ("callback", "unread"): [],
    ("callback", "queued"): [(CB_QUEUED, {"cce_mrd_id": 1})],
    ("callback", "cancelling"): [(CB_QUEUED, {"cce_mrd_id": 1}), (CANCELLING["callback"], {})],
    ("callback", "handled"): [(CB_QUEUED, {"cce_mrd_id": 1}), (HANDLED, {})],
    ("callback", "discarded"): [(INVALID_MRD, {})],
}

# (kind, position, requeueOnRecovery, pair right after the action, its last rule, final pair)
RESTART_TABLE = [
    ("task", "unread", False, UNREAD, "T1", HANDLED),  # submitted after the restart ("Sales")
    ("callback", "unread", False, UNREAD, "C1", CB_QUEUED),
    ("callback", "queued", False, FAILED_OVER, "C4", FAILED_OVER),
    ("task", "queued", True, RENOTIFYING, "T9", TASK_QUEUED),  # resubmitted: T10, attempt 2
    ("task", "queued", False, FAILED_OVER, "T5", FAILED_OVER),
    ("task", "renotifying", True, RENOTIFYING, "T9", TASK_QUEUED),  # keeps renotifying: T10
    ("task", "renotifying", False, FAILED_OVER, "T11", FAILED_OVER),
    ("task", "cancelling", True, CANCELLING["task"], "T6", TASK_CANCELLED),
    ("callback", "cancelling", False, CANCELLING["callback"], "C5", CB_CANCELLED),
    ("task", "reserved", True, RESERVED, "T3", RESERVED),
    ("task", "reserved", False, RESERVED, "T3", RESERVED),
    ("task", "handled", True, HANDLED, "T4", HANDLED),
    ("callback", "handled", False, HANDLED, "C3", HANDLED),
    ("task", "discarded", True, NO_SCRIPT, "T5", NO_SCRIPT),
    ("callback", "discarded", False, INVALID_MRD, "C4", INVALID_MRD),
]

DROP_TABLE = [
    ("task", "unread", False, UNREAD, "T1", DISCONNECTED),  # a new submission while down
    ("callback", "unread", False, UNREAD, "C1", DISCONNECTED),
    ("callback", "queued", False, DISCONNECTED, "C4", DISCONNECTED),
    ("task", "queued", True, DISCONNECTED, "T5", DISCONNECTED),
    ("task", "queued", False, DISCONNECTED, "T5", DISCONNECTED),
    ("task", "renotifying", True, DISCONNECTED, "T11", DISCONNECTED),
    ("task", "renotifying", False, DISCONNECTED, "T11", DISCONNECTED),
    ("task", "cancelling", False, CANCELLING["task"], "T6", TASK_CANCELLED),
    ("callback", "cancelling", False, CANCELLING["callback"], "C5", CB_CANCELLED),
    ("task", "reserved", True, RESERVED, "T3", RESERVED),  # completes once the connection is back
    ("task", "reserved", False, RESERVED, "T3", RESERVED),
    ("task", "handled", False, HANDLED, "T4", HANDLED),
    ("callback", "handled", False, HANDLED, "C3", HANDLED),
    ("task", "discarded", False, NO_SCRIPT, "T5", NO_SCRIPT),
    ("callback", "discarded", False, INVALID_MRD, "C4", INVALID_MRD),
]


@pytest.fixture
def demo(db) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    Agent.objects.filter(mrd_id=1).update(ready=False)  # callbacks wait in MRD 1's queue


def superuser(client):
    user = get_user_model().objects.get(username="superuser")
    client.force_login(user)
    return user


def run_action(client, action: str) -> None:
    response = client.post("/admin/contacts/ccesettings/", {"action": action, "_selected_action": ["1"]})
    assert response.status_code == 302, response.content.decode()[:2000]


def waiting_task() -> Contact:
    return lifecycle.create("task", Feed.objects.get(pk=100), name="n", title="t", script_selector="Waiting")


def pair_of(contact: Contact) -> tuple[str, str]:
    return tuple(Contact.objects.filter(pk=contact.pk).values_list("state", "reason").get())


def place(kind: str, position: str, requeue: bool = False) -> Contact:
    """A contact at `position`, reached by legal moves; no worker runs, so nothing else moves it."""
    feed = Feed.objects.get(pk=100 if kind == "task" else 200)
    selector = "Sales" if position == "unread" else "Waiting"
    contact = lifecycle.create(kind, feed, name=position, title="t", requeue_on_recovery=requeue,
                               script_selector=selector if kind == "task" else "", media_address="+1555")
    for pair, changes in PATHS[(kind, position)]:
        lifecycle.transition(contact, *pair, source=Source.SYSTEM, changes=changes)
    return contact


def place_all(table: list, handle_seconds: int) -> list[tuple[Contact, tuple]]:
    """One contact per row. The reserved ones come first and are routed to agent Frank, whose slots
    they then fill for `handle_seconds`, so no contact placed after them is routed."""
    reserved_rows = [row for row in table if row[1] == "reserved"]
    placed = [(place(*row[:3]), row) for row in reserved_rows]
    Agent.objects.filter(agent_id="1099").update(
        ready=True, max_concurrent=len(reserved_rows), handle_time_min=handle_seconds, handle_time_max=handle_seconds
    )
    assert routing.route(5002) == len(reserved_rows)
    return placed + [(place(*row[:3]), row) for row in table if row[1] != "reserved"]


def check_after(placed: list[tuple[Contact, tuple]]) -> None:
    for contact, (kind, position, requeue, after, rule, _) in placed:
        last = contact.transitions.order_by("-id").first()
        assert (pair_of(contact), last.rule) == (after, rule), (kind, position, requeue)


def wait_final(placed: list[tuple[Contact, tuple]]) -> None:
    for contact, (kind, position, requeue, *_, final) in placed:
        wait_for(lambda: pair_of(contact) == final, what=f"{kind} {position} requeue={requeue} at {final}")  # noqa: B023


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("demo")
class CcpRestartTests:
    def test_it_moves_every_kind_and_position_as_the_recovery_table_says(self, client, start_worker):
        placed = place_all(RESTART_TABLE, handle_seconds=1000)
        user = superuser(client)
        run_action(client, "simulate_ccp_restart")
        check_after(placed)
        moved = Transition.objects.filter(comment="simulated CCP restart")
        assert moved.count() == 4 and set(moved.values_list("source", "user")) == {("admin", user.pk)}
        start_worker()
        wait_final(placed)
        for contact, (_, position, requeue, *_) in placed:
            if requeue and position in {"queued", "renotifying"}:
                contact.refresh_from_db()
                assert contact.attempt == 2 and contact.transitions.last().rule == "T10", position

    def test_it_skips_a_contact_that_moved_since_the_snapshot(self):
        contact = place("task", "queued")
        seen = Contact.objects.get(pk=contact.pk)
        lifecycle.transition(contact, *CANCELLING["task"], source=Source.API)
        assert recovery._move_all([seen.pk], (TASK_QUEUED,), FAILED_OVER, source="admin", user=None, comment="") == 0
        assert pair_of(contact) == CANCELLING["task"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("demo")
class ConnectionLossTests:
    def test_it_moves_every_kind_and_position_as_the_connection_loss_rules_say(self, client, start_worker):
        placed = place_all(DROP_TABLE, handle_seconds=1)
        user = superuser(client)
        run_action(client, "set_connection_down")
        check_after(placed)
        assert not CceSettings.load().connection_up
        moved = Transition.objects.filter(comment="MR PG connection down")
        assert moved.count() == 5 and set(moved.values_list("source", "user")) == {("admin", user.pk)}
        start_worker()
        wait_final(placed)
        reserved = [contact for contact, row in placed if row[1] == "reserved"]
        # Their handle times have ended and sweeps (every 0.1 s) have run since: down, none completes.
        due = max(Contact.objects.filter(pk__in=[c.pk for c in reserved]).values_list("due_at", flat=True))
        wait_for(lambda: timezone.now() > due + timedelta(seconds=1))
        assert [pair_of(contact) for contact in reserved] == [RESERVED, RESERVED]
        run_action(client, "set_connection_up")
        wait_for(lambda: all(pair_of(contact) == HANDLED for contact in reserved))
        wait_for(lambda: not AgentAssignment.objects.filter(released_at=None).exists())

    def test_it_routes_again_when_the_connection_comes_back(self, client, start_worker):
        superuser(client)
        task = place("task", "cancelling")  # in MRD 5002's queue, its cancel due in a minute
        run_action(client, "set_connection_down")
        Agent.objects.filter(agent_id="1099").update(ready=True)
        assert routing.route(5002) == 0 and pair_of(task) == CANCELLING["task"]
        start_worker(CCE_CANCEL_LATENCY_SECONDS="60")
        run_action(client, "set_connection_up")
        wait_for(lambda: pair_of(task) == HANDLED)  # routing won the cancel: T8, then T4
        assert [row.rule for row in task.transitions.all()][-2:] == ["T8", "T4"]

    def test_it_drops_the_connection_when_an_admin_unticks_it_in_the_form(self, client):
        superuser(client)
        queued = place("callback", "queued")
        response = client.post("/admin/contacts/ccesettings/1/change/",
                               {"throttle_per_minute": 375, "backlog_size": 10000, "_save": "1"})
        assert response.status_code == 302, response.content.decode()[:2000]
        assert not CceSettings.load().connection_up and pair_of(queued) == DISCONNECTED

    def test_it_discards_what_a_race_queued_after_the_drop(self):
        recovery.set_connection(False)
        late = place("task", "queued")  # a renotify that read the connection up just before the drop
        reconcile()
        assert pair_of(late) == DISCONNECTED
        assert late.transitions.last().source == "system"


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
class CceSettingsAdminTests:
    def test_it_shows_the_window_and_the_backlog_beside_the_settings(self, client):
        superuser(client)
        place("task", "unread")
        page = client.get("/admin/contacts/ccesettings/").content.decode()
        assert "0 of 375 in 60 s" in page and "1 of 10000" in page
        assert "Simulate CCP restart" in page and "Set the MR PG connection down" in page

    def test_it_creates_the_settings_row_for_its_actions(self, client):
        superuser(client)
        CceSettings.objects.all().delete()
        assert client.get("/admin/contacts/ccesettings/").status_code == 200
        assert CceSettings.objects.filter(pk=1).exists()

    def test_it_lets_only_those_who_may_change_the_settings_run_its_actions(self, client):
        viewer = get_user_model().objects.create_user("viewer", is_staff=True)
        viewer.user_permissions.add(Permission.objects.get(codename="view_ccesettings"))
        client.force_login(viewer)
        queued = place("callback", "queued")
        assert client.get("/admin/contacts/ccesettings/").status_code == 200
        client.post("/admin/contacts/ccesettings/", {"action": "set_connection_down", "_selected_action": ["1"]})
        assert CceSettings.load().connection_up and pair_of(queued) == CB_QUEUED


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("demo")
class QueueLimitPipelineTests:
    def test_it_releases_a_callback_that_finds_the_mrd_queue_full(self, worker):
        MediaRoutingDomain.objects.filter(pk=1).update(max_tasks_in_queue=1)
        first = lifecycle.create("callback", Feed.objects.get(pk=200), media_address="+1555")
        wait_for(lambda: pair_of(first) == CB_QUEUED)
        second = lifecycle.create("callback", Feed.objects.get(pk=200), media_address="+1555")
        wait_for(lambda: pair_of(second) == RELEASED)
        assert [row.rule for row in second.transitions.all()] == ["C1", "C4"]

    def test_it_releases_a_queued_callback_once_the_task_life_has_passed(self, worker):
        MediaRoutingDomain.objects.filter(pk=1).update(task_life_seconds=1)
        contact = lifecycle.create("callback", Feed.objects.get(pk=200), media_address="+1555")
        wait_for(lambda: pair_of(contact) == RELEASED)
        queued, released = contact.transitions.filter(rule__in=["C2", "C4"]).values_list("created_at", flat=True)
        assert [row.rule for row in contact.transitions.all()] == ["C1", "C2", "C4"]
        assert (released - queued).total_seconds() >= 1

    def test_it_rejects_a_renotify_into_a_full_queue(self, worker):
        MediaRoutingDomain.objects.filter(pk=5002).update(max_tasks_in_queue=1)
        first = waiting_task()
        wait_for(lambda: pair_of(first) == TASK_QUEUED)
        second = waiting_task()
        wait_for(lambda: pair_of(second) == RELEASED)
        second.refresh_from_db()
        lifecycle.transition(second, *RENOTIFYING, source=Source.API)
        wait_for(lambda: Contact.objects.get(pk=second.pk).attempt == 2 and pair_of(second) == RELEASED)
        assert [row.rule for row in second.transitions.all()] == ["T1", "T5", "T9", "T11"]

    def test_it_gives_a_task_requeued_after_a_restart_a_new_task_life(self, start_worker):
        MediaRoutingDomain.objects.filter(pk=5002).update(task_life_seconds=1)
        contact = place("task", "queued", requeue=True)
        recovery.simulate_ccp_restart()
        start_worker()
        wait_for(lambda: pair_of(contact) == RELEASED)
        assert [row.rule for row in contact.transitions.all()] == ["T1", "T2", "T9", "T10", "T5"]
        requeued, released = contact.transitions.filter(rule__in=["T10", "T5"]).values_list("created_at", flat=True)
        assert (released - requeued).total_seconds() >= 1
