"""The mock CCE in the Django admin (validation, pages, roles) and its demo configuration (`seed_demo`)."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import IntegrityError, transaction

from contacts.cce.models import Agent, AgentAssignment, CceSettings, DialedNumber, MediaRoutingDomain, RoutingScript


@pytest.fixture
def demo(db) -> None:
    call_command("seed_demo", stdout=io.StringIO())


def login(client, username: str):
    client.force_login(get_user_model().objects.get(username=username))
    return client


def agent_form(**overrides) -> dict:
    form = {"name": "Zoe", "agent_id": "3001", "mrd": 5000, "ready": "on", "max_concurrent": 2,
            "handle_time_min": 3, "handle_time_max": 10, "_save": "1"}
    return {**form, **overrides}


@pytest.mark.usefixtures("demo")
class AgentAdminTests:
    def test_it_adds_a_valid_agent(self, client):
        response = login(client, "superuser").post("/admin/contacts/agent/add/", agent_form())
        assert response.status_code == 302
        assert Agent.objects.get(agent_id="3001").max_concurrent == 2

    def test_it_refuses_a_handle_time_minimum_above_the_maximum(self, client):
        response = login(client, "superuser").post("/admin/contacts/agent/add/", agent_form(handle_time_min=11))
        assert response.status_code == 200
        assert "must not be below the minimum" in response.content.decode()
        assert not Agent.objects.filter(agent_id="3001").exists()

    def test_it_refuses_fewer_than_1_or_more_than_10_concurrent_contacts(self, client):
        login(client, "superuser")
        for slots in (0, 11):
            response = client.post("/admin/contacts/agent/add/", agent_form(max_concurrent=slots))
            assert response.status_code == 200, slots
        assert not Agent.objects.filter(agent_id="3001").exists()

    def test_it_is_backed_by_database_constraints(self):
        for fields in ({"max_concurrent": 11}, {"handle_time_min": 9, "handle_time_max": 8}):
            with pytest.raises(IntegrityError), transaction.atomic():
                Agent.objects.create(name="x", agent_id="x", mrd_id=5000, **fields)

    def test_it_lists_agents_with_their_slots_in_use(self, client):
        response = login(client, "admin").get("/admin/contacts/agent/")
        assert response.status_code == 200
        assert "slots in use" in response.content.decode().lower()


@pytest.mark.usefixtures("demo")
class ConfigurationAdminTests:
    def test_it_refuses_a_delay_on_a_script_that_does_not_route(self, client):
        response = login(client, "superuser").post(
            "/admin/contacts/routingscript/add/", {"name": "late", "action": "release", "delay_seconds": 5}
        )
        assert response.status_code == 200
        assert not RoutingScript.objects.filter(name="late").exists()

    def test_it_shows_every_cce_changelist(self, client):
        login(client, "superuser")
        for model in ["mediaroutingdomain", "dialednumber", "routingscript", "agent", "agentassignment", "ccesettings"]:
            assert client.get(f"/admin/contacts/{model}/").status_code == 200, model

    def test_it_keeps_one_settings_row(self, client):
        response = login(client, "superuser").get("/admin/contacts/ccesettings/add/")
        assert response.status_code == 403
        CceSettings(connection_up=False).save()  # another "row" is the same row
        assert CceSettings.objects.count() == 1 and not CceSettings.load().connection_up

    def test_it_keeps_slot_history_read_only(self, client):
        login(client, "superuser")
        assert client.get("/admin/contacts/agentassignment/add/").status_code == 403

    def test_it_lets_admins_configure_but_not_delete(self):
        admin = get_user_model().objects.get(username="admin")
        for model in ["mediaroutingdomain", "dialednumber", "routingscript", "agent", "ccesettings"]:
            assert admin.has_perm(f"contacts.add_{model}") and admin.has_perm(f"contacts.change_{model}")
            assert not admin.has_perm(f"contacts.delete_{model}")
        assert admin.has_perm("contacts.view_agentassignment")
        assert not admin.has_perm("contacts.change_agentassignment")
        assert not admin.has_perm("contacts.delete_agentassignment")

    def test_it_lets_supervisors_only_view(self):
        supervisor = get_user_model().objects.get(username="supervisor")
        for model in ["mediaroutingdomain", "dialednumber", "routingscript", "agent", "agentassignment", "ccesettings"]:
            assert supervisor.has_perm(f"contacts.view_{model}")
            assert not supervisor.has_perm(f"contacts.change_{model}")


@pytest.mark.django_db
class SeedCceTests:
    def test_it_creates_the_documented_configuration(self):
        call_command("seed_demo", stdout=io.StringIO())
        assert {(d.string, d.mrd_id, d.script.action if d.script else None) for d in DialedNumber.objects.all()} == {
            ("CallbackDN", 1, "route"),
            ("Sales", 5000, "route"),
            ("Support", 5000, "route"),
            ("NoScript", 5000, None),
            ("Release", 5000, "release"),
            ("Faulty", 5000, "fail"),
            ("EmailDN", 5001, "route"),
            ("Waiting", 5002, "route"),
        }
        ready = Agent.objects.filter(ready=True)
        assert [a.max_concurrent for a in ready.filter(mrd_id=5000)] == [3, 3, 3]
        assert [a.max_concurrent for a in ready.filter(mrd_id=5001)] == [2, 2]
        assert [a.max_concurrent for a in ready.filter(mrd_id=1)] == [1, 1]
        assert not ready.filter(mrd_id=5002).exists()
        assert not MediaRoutingDomain.objects.get(pk=5001).routing_enabled
        settings = CceSettings.load()
        assert (settings.connection_up, settings.throttle_per_minute, settings.backlog_size) == (True, 375, 10000)

    def test_it_restores_changed_values_and_leaves_other_objects_alone(self):
        call_command("seed_demo", stdout=io.StringIO())
        MediaRoutingDomain.objects.filter(pk=5001).update(routing_enabled=True, max_tasks_in_queue=3)
        Agent.objects.filter(agent_id="1081").update(ready=False, max_concurrent=7)
        DialedNumber.objects.filter(string="NoScript").update(script=RoutingScript.objects.get(name="Fail"))
        CceSettings.objects.filter(pk=1).update(connection_up=False, throttle_per_minute=1)
        extra = MediaRoutingDomain.objects.create(id=42, name="mine")
        Agent.objects.create(name="mine", agent_id="4242", mrd=extra)
        call_command("seed_demo", stdout=io.StringIO())
        mrd = MediaRoutingDomain.objects.get(pk=5001)
        assert (mrd.routing_enabled, mrd.max_tasks_in_queue) == (False, 0)
        alice = Agent.objects.get(agent_id="1081")
        assert (alice.ready, alice.max_concurrent) == (True, 3)
        assert DialedNumber.objects.get(string="NoScript").script is None
        assert CceSettings.load().connection_up and CceSettings.load().throttle_per_minute == 375
        assert Agent.objects.filter(agent_id="4242", mrd_id=42).exists()
        assert not AgentAssignment.objects.exists()
