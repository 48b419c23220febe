"""The Celery pipeline end to end: a real worker (and beat) on Redis drives contacts through the mock CCE.

Every test seeds the demo configuration (`seed_demo`), creates contacts the way the API does
(`lifecycle.create`, whose after-commit hook enqueues `submit_contact`) and polls the database for
the documented outcome. Assert outcomes, never speed.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from contacts.cce.models import AgentAssignment, CceSettings, DialedNumber, MediaRoutingDomain, RoutingScript
from contacts.core import lifecycle
from contacts.core.lifecycle import Source
from contacts.core.models import Contact, Feed
from tests.polling import wait_for

HANDLED = ("handled", "EXTERNALLY_HANDLED")
TASK_QUEUED = ("queued", "EXTERNALLY_ROUTED")


def discarded(code: str) -> tuple[str, str]:
    return ("discarded", f"NOTIFICATION_{code}")


def create(kind: str = "task", feed_id: int = 100, selector: str = "", **variables: str) -> Contact:
    return lifecycle.create(
        kind,
        Feed.objects.get(pk=feed_id),
        name="Ada Lovelace",
        title="Order question",
        script_selector=selector,
        media_address="+15551234567" if kind == "callback" else "",
        variables=[{"name": name, "value": value} for name, value in variables.items()],
    )


def pair_of(contact: Contact) -> tuple[str, str]:
    return tuple(Contact.objects.filter(pk=contact.pk).values_list("state", "reason").get())


def settles(contact: Contact, expected: tuple[str, str], timeout: float = 30) -> Contact:
    wait_for(lambda: pair_of(contact) == expected, timeout=timeout, what=f"contact {contact.pk} at {expected}")
    contact.refresh_from_db()
    return contact


def rules(contact: Contact) -> list[str]:
    return list(contact.transitions.values_list("rule", flat=True))


def renotify(contact: Contact, selector: str | None = None) -> None:
    """T9, as the API or the admin makes it; the worker then makes T10 or T11."""
    contact.refresh_from_db()
    changes = {"script_selector": selector} if selector else None
    lifecycle.transition(contact, "queued", "TASK_RENOTIFY_REQUESTED", source=Source.API, changes=changes)


@pytest.fixture
def demo(transactional_db) -> None:
    call_command("seed_demo", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("demo")
class DemoPipelineTests:
    def test_it_ends_every_demo_row_in_its_documented_position(self, worker):
        rows = [
            (create(selector="Sales"), HANDLED, ["T1", "T2", "T3", "T4"]),
            (create(selector="Support"), HANDLED, ["T1", "T2", "T3", "T4"]),
            (create(selector="NoScript"), discarded("NO_SCRIPT"), ["T1", "T5"]),
            (create(selector="EmailDN"), discarded("MEDIA_ROUTING_DISABLED"), ["T1", "T5"]),
            (create(selector="Release"), discarded("ROUTER_RELEASED_TASK"), ["T1", "T5"]),
            (create(selector="Faulty"), discarded("UNKNOWN_ERROR"), ["T1", "T5"]),
            (create(selector="NoSuchSelector"), discarded("INVALID_SCRIPT_SELECTOR"), ["T1", "T5"]),
            (create(selector="Sales", mediaType="fax"), discarded("INVALID_NEW_TASK_MESSAGE"), ["T1", "T5"]),
            (create(selector="Sales", cv_1="x" * 41), discarded("INVALID_FIELD_LENGTH"), ["T1", "T5"]),
            (create("callback", 200), HANDLED, ["C1", "C2", "C3"]),
            (create("callback", 201), discarded("INVALID_MRD_ID"), ["C1", "C4"]),
            (create("callback", 200, mediaType="fax"), discarded("INVALID_NEW_TASK_MESSAGE"), ["C1", "C4"]),
            (create("callback", 200, cv_1="x" * 41), discarded("INVALID_FIELD_LENGTH"), ["C1", "C4"]),
        ]
        waiting = create(selector="Waiting")
        for contact, expected, path in rows:
            settles(contact, expected)
            assert rules(contact) == path, (contact.script_selector, rules(contact))
        sales = rows[0][0]
        assert sales.cce_mrd_id == 5000 and sales.cce_script_selector == "Sales"
        assert sales.cce_task_id == f"5000_{sales.pk}_1" and sales.agent_id in {"1081", "1082", "1083"}
        assert rows[9][0].cce_mrd_id == 1 and rows[9][0].agent_id in {"2001", "2002"}
        assert settles(waiting, TASK_QUEUED).estimated_wait == -1
        assert not AgentAssignment.objects.filter(contact=waiting).exists()

    def test_it_handles_email_once_an_admin_enables_routing_on_5001(self, worker, client):
        settles(create(selector="EmailDN"), discarded("MEDIA_ROUTING_DISABLED"))
        client.force_login(get_user_model().objects.get(username="superuser"))
        response = client.post(
            "/admin/contacts/mediaroutingdomain/5001/change/",
            {"name": "Email", "routing_enabled": "on", "max_tasks_in_queue": 0, "task_life_seconds": 0,
             "service_level_seconds": 20, "_save": "1"},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        email = settles(create(selector="EmailDN"), HANDLED)
        assert email.cce_mrd_id == 5001 and email.agent_id in {"1091", "1092"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("demo")
class DiscardPipelineTests:
    def test_it_releases_a_contact_that_finds_the_mrd_queue_full(self, worker):
        MediaRoutingDomain.objects.filter(pk=5002).update(max_tasks_in_queue=1)
        settles(create(selector="Waiting"), TASK_QUEUED)
        second = settles(create(selector="Waiting"), discarded("ROUTER_RELEASED_TASK"))
        assert rules(second) == ["T1", "T5"] and second.cce_mrd_id == 5002

    def test_it_releases_a_queued_contact_once_the_task_life_has_passed(self, worker):
        MediaRoutingDomain.objects.filter(pk=5002).update(task_life_seconds=1)
        contact = settles(create(selector="Waiting"), discarded("ROUTER_RELEASED_TASK"))
        assert rules(contact) == ["T1", "T2", "T5"]

    def test_it_discards_new_contacts_while_the_connection_is_down(self, worker):
        CceSettings.objects.filter(pk=1).update(connection_up=False)
        settles(create(selector="Sales"), discarded("CCE_CONNECTION_FAILURE"))
        settles(create("callback", 200), discarded("CCE_CONNECTION_FAILURE"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("demo")
class RenotifyPipelineTests:
    def test_it_handles_a_renotified_task_once_the_configuration_is_fixed(self, worker):
        contact = settles(create(selector="NoScript"), discarded("NO_SCRIPT"))
        DialedNumber.objects.filter(string="NoScript").update(script=RoutingScript.objects.get(name="Route to agents"))
        renotify(contact)
        contact = settles(contact, HANDLED)
        assert rules(contact) == ["T1", "T5", "T9", "T10", "T3", "T4"]
        assert contact.attempt == 2 and contact.cce_task_id == f"5000_{contact.pk}_2"

    def test_it_resubmits_with_the_script_selector_the_renotify_names(self, worker):
        contact = settles(create(selector="Nowhere"), discarded("INVALID_SCRIPT_SELECTOR"))
        assert contact.cce_mrd_id is None
        renotify(contact, "Support")
        contact = settles(contact, HANDLED)
        assert (contact.script_selector, contact.cce_script_selector) == ("Support", "Support")
        assert contact.cce_mrd_id == 5000

    def test_it_counts_an_attempt_for_every_rejected_resubmission(self, worker):
        contact = settles(create(selector="Faulty"), discarded("UNKNOWN_ERROR"))
        for attempt in (2, 3):
            renotify(contact)
            wait_for(lambda: Contact.objects.get(pk=contact.pk).attempt == attempt)  # noqa: B023
            contact = settles(contact, discarded("UNKNOWN_ERROR"))
        assert rules(contact) == ["T1", "T5", "T9", "T11", "T9", "T11"]

    def test_it_requeues_a_queued_task_renotified_to_another_selector(self, worker):
        contact = settles(create(selector="Waiting"), TASK_QUEUED)
        renotify(contact, "Sales")
        contact = settles(contact, HANDLED)
        assert rules(contact) == ["T1", "T2", "T9", "T10", "T3", "T4"]
        assert contact.cce_mrd_id == 5000 and contact.attempt == 2
        assert contact.assignment.agent.mrd_id == 5000 and not contact.assignment.is_open


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("demo")
class KilledWorkerTests:
    def test_it_completes_a_reserved_task_after_its_worker_was_killed(self, start_worker, kill_worker):
        first = start_worker(CCE_HANDLE_TIME_SCALE="0.5")  # handle times of 1.5–5 s
        contact = settles(create(selector="Sales"), ("reserved", "EXTERNALLY_ROUTED"))
        kill_worker(first)
        assert not first.alive()
        start_worker()  # its sweep finds the due completion in the database
        contact = settles(contact, HANDLED)
        assert rules(contact) == ["T1", "T2", "T3", "T4"] and not contact.assignment.is_open
