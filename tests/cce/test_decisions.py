"""`decide()` on its own: every branch of its documented order, the §7 estimate, and no side effects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.cce.decisions import Decision, Lookups, decide
from contacts.cce.models import Agent, AgentAssignment, CceSettings, DialedNumber, MediaRoutingDomain, RoutingScript
from contacts.core.models import Contact, Feed, FeedNotification, Transition
from contacts.demo import seed as demo


@pytest.fixture
def seeded(db) -> None:
    demo.seed_feeds()
    demo.seed_cce()


def task(selector: str = "Sales", variables: dict[str, str] | None = None, **fields) -> Contact:
    return Contact.objects.create(
        kind="task",
        feed_id=100,
        name="Ada",
        title="Order question",
        script_selector=selector,
        variables=[{"name": name, "value": value} for name, value in (variables or {}).items()],
        **fields,
    )


def callback(feed_id: int = 200, variables: dict[str, str] | None = None) -> Contact:
    return Contact.objects.create(
        kind="callback",
        feed_id=feed_id,
        name="Grace",
        media_address="+15551234567",
        variables=[{"name": name, "value": value} for name, value in (variables or {}).items()],
    )


def reason(contact: Contact) -> str:
    return decide(contact).reason


@pytest.mark.usefixtures("seeded")
class DecideOrderTests:
    def test_it_fails_every_contact_first_while_the_connection_is_down(self):
        CceSettings.objects.filter(pk=1).update(connection_up=False)
        assert reason(task("Sales", {"cv_1": "x" * 41, "mediaType": "fax"})) == "NOTIFICATION_CCE_CONNECTION_FAILURE"
        assert reason(callback(201)) == "NOTIFICATION_CCE_CONNECTION_FAILURE"

    def test_it_refuses_a_call_variable_over_40_characters(self):
        assert reason(task("Sales", {"cv_1": "x" * 41})) == "NOTIFICATION_INVALID_FIELD_LENGTH"
        assert reason(task("Sales", {"cv_10": "x" * 41})) == "NOTIFICATION_INVALID_FIELD_LENGTH"

    def test_it_accepts_a_call_variable_of_40_characters_and_long_extension_fields(self):
        assert decide(task("Sales", {"cv_1": "x" * 40, "cv_11": "y" * 300, "note": "z" * 300})).queued

    def test_it_counts_an_ecc_value_in_bytes(self):
        assert decide(task("Sales", {"user_user.a": "x" * 210})).queued
        assert reason(task("Sales", {"user_user.a": "é" * 106})) == "NOTIFICATION_INVALID_FIELD_LENGTH"

    def test_it_refuses_an_ecc_name_over_32_characters(self):
        assert decide(task("Sales", {"user_user." + "n" * 27: "v"})).queued
        assert reason(task("Sales", {"user_user." + "n" * 28: "v"})) == "NOTIFICATION_INVALID_FIELD_LENGTH"

    def test_it_refuses_ecc_values_over_2000_bytes_with_5_bytes_overhead_each(self):
        fits = {f"user_user.v{i}": "x" * 195 for i in range(10)}  # 10 × (195 + 5) = 2000
        assert decide(task("Sales", fits)).queued
        over = {f"user_user.v{i}": "x" * 196 for i in range(10)}  # 2010
        assert reason(task("Sales", over)) == "NOTIFICATION_INVALID_FIELD_LENGTH"

    def test_it_checks_field_lengths_before_the_request_format(self):
        assert reason(task("Sales", {"mediaType": "fax", "cv_2": "x" * 41})) == "NOTIFICATION_INVALID_FIELD_LENGTH"

    def test_it_refuses_an_unknown_media_type(self):
        assert reason(task("Sales", {"mediaType": "fax"})) == "NOTIFICATION_INVALID_NEW_TASK_MESSAGE"

    def test_it_accepts_every_listed_media_type(self):
        for media_type in ["chat", "email", "event", "mobile", "social", "video", "voice", "web"]:
            assert decide(task("Sales", {"mediaType": media_type})).queued, media_type

    def test_it_refuses_an_ecc_variable_not_named_user_dot(self):
        assert reason(task("Sales", {"user_order.channel": "web"})) == "NOTIFICATION_INVALID_NEW_TASK_MESSAGE"
        assert decide(task("Sales", {"user_user.order.channel": "web"})).queued

    def test_it_checks_the_request_format_before_the_callback_mrd(self):
        assert reason(callback(201, {"mediaType": "fax"})) == "NOTIFICATION_INVALID_NEW_TASK_MESSAGE"

    def test_it_refuses_a_callback_whose_notification_names_a_missing_mrd(self):
        decision = decide(callback(201))
        assert decision.reason == "NOTIFICATION_INVALID_MRD_ID"
        assert decision.mrd_id == 9999

    def test_it_refuses_a_callback_whose_feed_has_no_enabled_notification(self):
        FeedNotification.objects.filter(feed_id=200).update(enabled=False)
        assert reason(callback(200)) == "NOTIFICATION_INVALID_MRD_ID"

    def test_it_checks_the_callback_mrd_before_the_script_selector(self):
        FeedNotification.objects.filter(feed_id=201).update(script_selector="Nowhere")
        assert reason(callback(201)) == "NOTIFICATION_INVALID_MRD_ID"

    def test_it_refuses_an_unknown_script_selector(self):
        assert reason(task("Nowhere")) == "NOTIFICATION_INVALID_SCRIPT_SELECTOR"
        assert reason(task("")) == "NOTIFICATION_INVALID_SCRIPT_SELECTOR"

    def test_it_refuses_a_callback_whose_notification_names_an_unknown_script_selector(self):
        FeedNotification.objects.filter(feed_id=200).update(script_selector="Nowhere")
        assert reason(callback(200)) == "NOTIFICATION_INVALID_SCRIPT_SELECTOR"

    def test_it_checks_the_script_selector_before_routing_enabled(self):
        MediaRoutingDomain.objects.update(routing_enabled=False)
        assert reason(task("Nowhere")) == "NOTIFICATION_INVALID_SCRIPT_SELECTOR"

    def test_it_refuses_when_routing_is_disabled_on_the_mrd(self):
        assert reason(task("EmailDN")) == "NOTIFICATION_MEDIA_ROUTING_DISABLED"

    def test_it_checks_routing_enabled_before_the_script_binding(self):
        DialedNumber.objects.filter(string="EmailDN").update(script=None)
        assert reason(task("EmailDN")) == "NOTIFICATION_MEDIA_ROUTING_DISABLED"

    def test_it_uses_the_notification_mrd_for_a_callback_not_the_selectors(self):
        FeedNotification.objects.filter(feed_id=200).update(mrd_id=5001)
        assert reason(callback(200)) == "NOTIFICATION_MEDIA_ROUTING_DISABLED"
        FeedNotification.objects.filter(feed_id=200).update(mrd_id=5000)
        MediaRoutingDomain.objects.filter(pk=1).update(routing_enabled=False)
        decision = decide(callback(200))
        assert (decision.queued, decision.mrd_id, decision.script_selector) == (True, 5000, "CallbackDN")

    def test_it_refuses_a_script_selector_without_a_script(self):
        assert reason(task("NoScript")) == "NOTIFICATION_NO_SCRIPT"

    def test_it_refuses_a_callback_whose_notification_selector_has_no_script(self):
        DialedNumber.objects.filter(string="CallbackDN").update(script=None)
        assert reason(callback(200)) == "NOTIFICATION_NO_SCRIPT"

    def test_it_releases_when_the_mrd_queue_is_at_its_maximum(self):
        MediaRoutingDomain.objects.filter(pk=5000).update(max_tasks_in_queue=2)
        task("Sales", state="queued", reason="EXTERNALLY_ROUTED", cce_mrd_id=5000)
        assert decide(task("Sales")).queued
        task("Sales", state="queued", reason="NOTIFICATION_CCE_TASK_CANCEL_REQUESTED", cce_mrd_id=5000)
        assert reason(task("Sales")) == "NOTIFICATION_ROUTER_RELEASED_TASK"

    def test_it_checks_the_queue_limit_before_the_script(self):
        MediaRoutingDomain.objects.filter(pk=5000).update(max_tasks_in_queue=1)
        task("Sales", state="queued", reason="EXTERNALLY_ROUTED", cce_mrd_id=5000)
        assert reason(task("Faulty")) == "NOTIFICATION_ROUTER_RELEASED_TASK"

    def test_it_does_not_count_the_contact_itself_against_the_queue_limit(self):
        MediaRoutingDomain.objects.filter(pk=5000).update(max_tasks_in_queue=1)
        assert decide(task("Sales", state="queued", reason="EXTERNALLY_ROUTED", cce_mrd_id=5000)).queued

    def test_it_releases_when_the_script_says_release(self):
        assert reason(task("Release")) == "NOTIFICATION_ROUTER_RELEASED_TASK"

    def test_it_fails_with_an_unknown_error_when_the_script_says_fail(self):
        assert reason(task("Faulty")) == "NOTIFICATION_UNKNOWN_ERROR"

    def test_it_queues_a_task_in_the_mrd_of_its_script_selector(self):
        assert decide(task("Support")) == Decision("queue", "EXTERNALLY_ROUTED", 5000, "Support", 0)

    def test_it_queues_a_callback_in_the_mrd_of_its_notification(self):
        assert decide(callback(200)) == Decision("queue", "EXTERNALLY_HANDLED", 1, "CallbackDN", 0)

    def test_it_names_the_mrd_and_selector_it_got_to_in_a_discard(self):
        decision = decide(task("NoScript"))
        assert (decision.outcome, decision.mrd_id, decision.script_selector) == ("discard", 5000, "NoScript")
        assert decide(task("Nowhere")).mrd_id is None


@pytest.mark.usefixtures("seeded")
class SharedLookupsTests:
    def test_a_batch_decided_with_shared_reads_answers_as_one_decide_per_contact_in_order(self):
        sales = DialedNumber.objects.get(string="Sales").mrd_id
        MediaRoutingDomain.objects.filter(pk=sales).update(max_tasks_in_queue=4)
        task("Sales", state="queued", reason="EXTERNALLY_ROUTED", cce_mrd_id=sales)  # one waiting already
        batch = [task("Sales"), task("Nowhere"), task("Sales"), callback(), task("Sales"), task("Sales")]
        lookups = Lookups()
        shared = [decide(contact, lookups) for contact in batch]
        one_by_one = []
        for contact in batch:  # as if each were submitted alone, in turn, and moved before the next
            decision = decide(contact)
            one_by_one.append(decision)
            if decision.queued:
                Contact.objects.filter(pk=contact.pk).update(
                    state="queued", reason=decision.reason, cce_mrd_id=decision.mrd_id
                )
        assert shared == one_by_one
        # The queue limit is reached inside the batch: the last Sales task finds 4 ahead of it.
        last_two = [decision.reason for decision in shared][-2:]
        assert last_two == ["EXTERNALLY_ROUTED", "NOTIFICATION_ROUTER_RELEASED_TASK"]


@pytest.mark.usefixtures("seeded")
class DecideWithoutSideEffectsTests:
    def test_it_answers_for_a_discarded_contact_and_changes_nothing(self):
        contact = task("NoScript", state="discarded", reason="NOTIFICATION_NO_SCRIPT")
        before = Contact.objects.values().get(pk=contact.pk)
        assert reason(contact) == "NOTIFICATION_NO_SCRIPT"
        DialedNumber.objects.filter(string="NoScript").update(script=DialedNumber.objects.get(string="Sales").script)
        assert decide(contact).queued  # the cause is gone: the dashboard can say so
        assert Contact.objects.values().get(pk=contact.pk) == before
        assert not Transition.objects.exists()

    def test_it_writes_no_settings_row_when_none_exists(self):
        CceSettings.objects.all().delete()
        assert decide(task("Sales")).queued
        assert not CceSettings.objects.exists()


@pytest.fixture
def mrd(db) -> MediaRoutingDomain:
    Feed.objects.create(id=100, name="tasks", type=12)
    mrd = MediaRoutingDomain.objects.create(id=7000, name="estimate")
    DialedNumber.objects.create(string="Est", mrd=mrd, script=RoutingScript.objects.create(name="route"))
    return mrd


def busy(agent: Agent, count: int) -> None:
    """Occupy `count` of the agent's slots with reserved tasks."""
    now = timezone.now()
    for _ in range(count):
        contact = task("Est", state="reserved", reason="EXTERNALLY_ROUTED", cce_mrd_id=agent.mrd_id)
        AgentAssignment.objects.create(
            agent=agent, contact=contact, mrd_id=agent.mrd_id, started_at=now, ends_at=now + timedelta(minutes=5)
        )


def queue(mrd: MediaRoutingDomain, count: int) -> None:
    for _ in range(count):
        task("Est", state="queued", reason="EXTERNALLY_ROUTED", cce_mrd_id=mrd.pk)


class EstimatedWaitTests:
    @pytest.fixture(autouse=True)
    def real_handle_times(self, settings) -> None:
        settings.CCE_HANDLE_TIME_SCALE = 1.0

    def agents(self, mrd: MediaRoutingDomain) -> tuple[Agent, Agent]:
        # s = 4 slots, h = mean(15, 30) = 22.5 s
        return (
            Agent.objects.create(name="a", agent_id="1", mrd=mrd, max_concurrent=2, handle_time_min=10,
                                 handle_time_max=20),
            Agent.objects.create(name="b", agent_id="2", mrd=mrd, max_concurrent=2, handle_time_min=20,
                                 handle_time_max=40),
        )

    def test_it_is_minus_one_without_a_ready_agent(self, mrd):
        Agent.objects.create(name="off", agent_id="9", mrd=mrd, ready=False)
        assert decide(task("Est")).estimated_wait == -1

    def test_it_is_zero_while_a_slot_is_free_for_it(self, mrd):
        first, second = self.agents(mrd)
        busy(first, 2)
        busy(second, 1)
        queue(mrd, 0)
        assert decide(task("Est")).estimated_wait == 0  # a = 0 < free = 1

    def test_it_follows_the_formula_when_no_slot_is_free(self, mrd):
        first, second = self.agents(mrd)
        busy(first, 2)
        busy(second, 2)
        queue(mrd, 3)
        assert decide(task("Est")).estimated_wait == 23  # ceil((3 - 0 + 1) * 22.5 / 4)

    def test_it_follows_the_formula_when_the_queue_takes_the_free_slots(self, mrd):
        first, second = self.agents(mrd)
        busy(first, 2)
        busy(second, 1)
        queue(mrd, 1)
        assert decide(task("Est")).estimated_wait == 6  # ceil((1 - 1 + 1) * 22.5 / 4)

    def test_it_ignores_agents_that_are_not_ready(self, mrd):
        first, second = self.agents(mrd)
        Agent.objects.filter(pk=second.pk).update(ready=False)
        busy(first, 2)
        assert decide(task("Est")).estimated_wait == 8  # s = 2, h = 15: ceil((0 - 0 + 1) * 15 / 2)

    def test_it_scales_with_the_handle_time_scale(self, mrd, settings):
        first, second = self.agents(mrd)
        busy(first, 2)
        busy(second, 2)
        queue(mrd, 3)
        settings.CCE_HANDLE_TIME_SCALE = 0.5
        assert decide(task("Est")).estimated_wait == 12  # ceil(4 * 11.25 / 4)
