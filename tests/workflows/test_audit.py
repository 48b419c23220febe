"""The audit trail: what is recorded (who, what, when, why), the contact timeline that merges it, the
audit page (its filters, keyset pages, and entries read as words), and the configuration changes made in
the Django admin: recorded old → new, and shown in a contact's timeline between its discard and its resubmit."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.db import connection
from django.forms.models import model_to_dict
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from contacts.cce import recovery
from contacts.cce.models import Agent, CceSettings, DialedNumber, MediaRoutingDomain, RoutingScript
from contacts.core import lifecycle
from contacts.core.lifecycle import Reason, Source, State
from contacts.core.models import Contact
from contacts.workflows import actions
from contacts.workflows import jobs as workflows
from contacts.workflows.models import AuditAction, AuditEntry
from tests.workflow_support import callback, client_for, discard, make_user, seed, task


@pytest.fixture
def admin(db):
    return make_user("admin")


def audit_ids(body: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr data-audit="(\d+)"', body)]


@pytest.mark.django_db
class AuditEntryTests:
    def test_it_records_who_did_what_to_which_contact_and_why(self, admin):
        contact = discard(task())
        actions.resubmit(contact, source=Source.DASHBOARD, user=admin, comment="selector created")
        entry = AuditEntry.objects.get()
        assert (entry.user, entry.username, entry.action, entry.source) == (admin, "admin", "resubmit", "dashboard")
        assert (entry.contact, entry.contact_public_id, entry.comment) == (contact, contact.public_id,
                                                                           "selector created")
        assert entry.created_at is not None

    def test_it_records_the_start_and_the_finish_of_a_bulk_job(self, admin):
        CceSettings.objects.update_or_create(pk=1, defaults={"throttle_per_minute": 0})
        discard(task())
        job = workflows.start("resubmit", {}, user=admin, comment="after the outage")
        workflows.run(job.pk)
        actions_logged = list(AuditEntry.objects.order_by("id").values_list("action", "job_id", "comment"))
        assert actions_logged == [("bulk_start", job.pk, "after the outage"), ("resubmit", job.pk, "after the outage"),
                                  ("bulk_finish", job.pk, "after the outage")]
        assert AuditEntry.objects.get(action="bulk_finish").details["succeeded"] == 1

    def test_it_keeps_the_entry_when_the_user_is_deleted(self, admin):
        actions.request_cancel(task(), source=Source.DASHBOARD, user=admin)
        admin.delete()
        assert AuditEntry.objects.get().username == "admin"

    def test_it_keeps_the_entry_when_the_contact_is_deleted(self, admin):
        contact = task()
        actions.request_cancel(contact, source=Source.DASHBOARD, user=admin)
        Contact.objects.filter(pk=contact.pk).delete()
        entry = AuditEntry.objects.get()
        assert (entry.contact, entry.contact_public_id) == (None, contact.public_id)

    def test_it_shows_the_entries_in_the_contact_timeline(self, admin):
        original = discard(callback())
        new = actions.resubmit(original, source=Source.DASHBOARD, user=admin, comment="try again")
        body = client_for("supervisor").get(f"/contacts/{original.public_id}").content.decode()
        timeline = body[body.index('id="timeline"'):]
        assert 'class="audit"' in timeline and "try again" in timeline and new.public_id in timeline
        # By time: the audit row comes after the discard it answers.
        assert timeline.index("NOTIFICATION_INVALID_SCRIPT_SELECTOR") < timeline.index('class="audit"')


@pytest.mark.django_db
class AuditPageTests:
    @pytest.fixture
    def entries(self, admin):
        other = make_user("admin", "other")
        for i in range(60):
            AuditEntry.record(AuditAction.CANCEL, user=admin, source=Source.DASHBOARD, comment=f"c{i}")
        for i in range(5):
            AuditEntry.record(AuditAction.RESUBMIT, user=other, source=Source.ADMIN, comment=f"r{i}")

    def test_it_lists_the_newest_entries_first(self, entries):
        ids = audit_ids(client_for("superuser").get("/audit/").content.decode())
        assert len(ids) == 50 and ids == sorted(ids, reverse=True)
        assert ids[0] == AuditEntry.objects.latest("id").pk

    def test_it_pages_by_keyset_without_gaps_or_repeats(self, entries):
        client, seen, url = client_for("superuser"), [], "/audit/"
        while url:
            body = client.get(url).content.decode()
            seen += audit_ids(body)
            found = re.search(r'href="(\?[^"]*before=\d+)" rel="next"', body)
            url = "/audit/" + found.group(1).replace("&amp;", "&") if found else None
        assert seen == list(AuditEntry.objects.order_by("-id").values_list("id", flat=True))

    def test_it_filters_by_user_and_action(self, entries):
        client = client_for("superuser")
        assert len(audit_ids(client.get("/audit/?user=other").content.decode())) == 5
        assert len(audit_ids(client.get("/audit/?action=cancel&user=admin").content.decode())) == 50
        assert audit_ids(client.get("/audit/?action=resubmit&user=admin").content.decode()) == []


def visible_text(body: str) -> str:
    """The page as a person reads it: tags (and the ids in their links and attributes) removed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", body[body.index("<main"):]))


HEX_ID = re.compile(r"\b[0-9A-F]{32}\b")
REPR = re.compile(r"[{\[]'|': ")


@pytest.mark.django_db
class ReadableAuditPageTests:
    @pytest.fixture
    def lovelace(self, admin):
        admin.first_name, admin.last_name = "Ada", "Lovelace"
        admin.save()
        return admin

    def test_it_names_users_and_contacts_as_people_know_them(self, lovelace):
        original = discard(callback(name="Bob"))
        new = actions.resubmit(original, source=Source.DASHBOARD, user=lovelace)
        actions.request_cancel(task(name=""), source=Source.DASHBOARD, user=lovelace)  # known by its title
        body = client_for("superuser").get("/audit/").content.decode()
        text = visible_text(body)
        # The name a person knows, linked to the user's entries (the filter takes the username).
        assert '<td><a href="?user=admin" title="Only the entries of admin">Ada Lovelace</a></td>' in body
        assert "Ada Lovelace" in text and " admin " not in text
        assert f"Bob · {original.public_id[:8]}" in text and "Order 4711 · " in text
        assert f'href="/contacts/{original.public_id}">Bob · {original.public_id[:8]}</a>' in body
        assert f'href="/contacts/{new.public_id}">Bob · {new.public_id[:8]}</a>' in body  # resubmitted as
        assert not HEX_ID.search(text) and not REPR.search(text)

    def test_it_reads_the_details_of_each_action_as_words(self, admin):
        CceSettings.objects.update_or_create(pk=1, defaults={"throttle_per_minute": 0})
        contact = task(selector="Waiting")
        lifecycle.transition(contact, State.DISCARDED, Reason.INVALID_SCRIPT_SELECTOR, source=Source.CCE,
                             changes={"cce_script_selector": "Waiting"})
        job = workflows.start("resubmit", {"selector": "Waiting", "window": "1h"}, user=admin)
        workflows.run(job.pk)
        contact.refresh_from_db()
        actions.resubmit(discard(contact), source=Source.DASHBOARD, user=admin, script_selector="Sales")
        body = client_for("superuser").get("/audit/").content.decode()
        text = visible_text(body)
        assert "resubmit of 1 contact; script selector: Waiting; created: last 1h" in text
        assert f"in bulk job #{job.pk}" in text and "1 done: 1 resubmitted, 0 skipped" in text
        assert "new selector Sales" in text and "discarded: Unknown script selector" in text
        assert '<span title="NOTIFICATION_INVALID_SCRIPT_SELECTOR">discarded: Unknown script selector</span>' in body
        assert not HEX_ID.search(text) and not REPR.search(text)

    def test_it_links_a_bulk_job_by_its_number(self, admin):
        job = workflows.start("cancel", {}, user=admin)
        body = client_for("superuser").get("/audit/").content.decode()
        assert f'<a href="/jobs/{job.pk}">bulk job #{job.pk}</a>' in body

    def test_it_marks_a_purged_contact_without_linking_it(self, admin):
        contact = task(name="Ada")
        actions.request_cancel(contact, source=Source.DASHBOARD, user=admin)
        Contact.objects.filter(pk=contact.pk).delete()
        body = client_for("superuser").get("/audit/").content.decode()
        assert "Ada" not in visible_text(body) and f"contact {contact.public_id[:8]} (purged)" in visible_text(body)
        assert f"/contacts/{contact.public_id}" not in body

    @override_settings(TIME_ZONE="Europe/Berlin")
    def test_it_shows_times_on_one_line_in_the_contact_centers_zone(self, admin):
        at = datetime(2024, 1, 15, 13, 2, 11, tzinfo=UTC)
        AuditEntry.record(AuditAction.CANCEL, user=admin, source=Source.DASHBOARD)
        AuditEntry.objects.update(created_at=at)
        body = client_for("superuser").get("/audit/").content.decode()
        assert visible_text(body).count("Europe/Berlin") == 1 and "Times in Europe/Berlin" in body
        assert '<td class="when"><time datetime="2024-01-15T13:02:11+00:00">2024-01-15 14:02:11</time></td>' in body
        css = (settings.BASE_DIR / "static/css/workflows.css").read_text()
        assert re.search(r"\.audit-log td\.when \{ white-space: nowrap; \}", css)

    def test_it_filters_configuration_changes(self, admin):
        AuditEntry.record(AuditAction.CANCEL, user=admin, source=Source.DASHBOARD)
        change = AuditEntry.record(AuditAction.CONFIG_CHANGED, user=admin, source=Source.ADMIN, target="MRD 5001 Email",
                                   target_key="mrd:5001", details={"verb": "changed"},
                                   changes={"routing enabled": [False, True]})
        body = client_for("superuser").get("/audit/?action=config_changed").content.decode()
        assert audit_ids(body) == [change.pk]
        assert "MRD 5001 Email" in body and "routing enabled no → yes" in body
        assert 'href="?action=config_changed">Configuration changes</a>' in body

    def test_its_query_count_does_not_grow_with_the_entries_it_shows(self, admin):
        client = client_for("superuser")

        def page_queries(rounds: int) -> int:
            AuditEntry.objects.all().delete()
            for i in range(rounds):
                actions.resubmit(discard(callback(name=f"c{i}")), source=Source.DASHBOARD, user=make_user("admin",
                                 f"a{rounds}-{i}"))
                job = workflows.start("cancel", {"feed": "200"}, user=admin)
                workflows.finish(job)
                AuditEntry.record(AuditAction.CONFIG_CHANGED, user=admin, source=Source.ADMIN, target="CCE settings",
                                  target_key="cce", details={"verb": "changed"},
                                  changes={"backlog size": [10000, 10]})
            with CaptureQueriesContext(connection) as queries:
                body = client.get("/audit/").content.decode()
            assert len(audit_ids(body)) == rounds * 4
            return len(queries)

        assert page_queries(1) == page_queries(12)


def form_data(obj, **changes) -> dict:
    """What the admin's change form of `obj` posts, with `changes` made (a false boolean is left out, as a
    browser leaves an unticked box)."""
    data = {}
    for name, value in {**model_to_dict(obj), **changes}.items():
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    return {**data, "_save": "1"}


def admin_url(obj, view: str = "change") -> str:
    return f"/admin/contacts/{obj._meta.model_name}/{obj.pk}/{view}/"


def config_entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=AuditAction.CONFIG_CHANGED).order_by("id"))


# (model, how to find the object, the form's change, the entry's target, its key, its changes)
CHANGES = [
    (MediaRoutingDomain, {"pk": 5001}, {"routing_enabled": True}, "MRD 5001 Email", lambda mrd: "mrd:5001",
     {"routing enabled": [False, True]}),
    (DialedNumber, {"string": "Sales"}, {"script": "Release"}, "script selector Sales", lambda dn: "selector:Sales",
     {"script": ["Route to agents", "Release"]}),
    (RoutingScript, {"name": "Release"}, {"action": "fail"}, "routing script Release",
     lambda script: f"script:{script.pk}", {"action": ["release", "fail with unknown error"]}),
    (Agent, {"agent_id": "1099"}, {"ready": True, "max_concurrent": 2}, "agent Frank (1099)",
     lambda agent: f"agent:{agent.pk}", {"ready": [False, True], "max concurrent contacts": [1, 2]}),
    (CceSettings, {"pk": 1}, {"throttle_per_minute": 100, "backlog_size": 50}, "CCE settings", lambda cce: "cce",
     {"throttle (contacts per minute)": [375, 100], "backlog size": [10000, 50]}),
]


@pytest.mark.django_db
class ConfigChangeAuditTests:
    @pytest.fixture(autouse=True)
    def demo(self, admin):
        seed()
        self.client = Client()
        self.client.force_login(admin)

    @pytest.mark.parametrize("model, lookup, change, target, key, expected", CHANGES,
                             ids=[row[0].__name__ for row in CHANGES])
    def test_it_records_a_change_in_the_admin_as_old_and_new_values(self, model, lookup, change, target, key,
                                                                    expected):
        obj = model.objects.get(**lookup)
        if "script" in change:
            change = {"script": RoutingScript.objects.get(name=change["script"]).pk}
        response = self.client.post(admin_url(obj), form_data(obj, **change))
        assert response.status_code == 302, response.content.decode()[:2000]
        [entry] = config_entries()
        assert (entry.username, entry.source, entry.target, entry.changes) == ("admin", "admin", target, expected)
        assert entry.target_key == key(obj)
        assert entry.details == {"verb": "changed"} and entry.contact is None

    def test_it_records_the_connection_an_admin_unticks_in_the_form(self):
        cce = CceSettings.load()
        response = self.client.post(admin_url(cce), form_data(cce, connection_up=False))
        assert response.status_code == 302
        [entry] = config_entries()
        assert entry.changes == {"MR PG connection up": [True, False]}

    def test_it_records_nothing_for_a_form_saved_unchanged(self):
        mrd = MediaRoutingDomain.objects.get(pk=5000)
        assert self.client.post(admin_url(mrd), form_data(mrd)).status_code == 302
        assert config_entries() == []

    def test_it_records_nothing_for_a_workers_write(self):
        MediaRoutingDomain.objects.filter(pk=5001).update(routing_enabled=True)
        agent = Agent.objects.get(agent_id="1099")
        agent.ready = True
        agent.save()
        recovery.set_connection(False)
        cce = CceSettings.load()
        cce.throttle_per_minute = 1
        cce.save()
        DialedNumber.objects.create(string="Billing", mrd_id=5000)
        RoutingScript.objects.filter(name="Fail").delete()
        assert config_entries() == []

    def test_it_records_a_create_with_its_values(self):
        response = self.client.post("/admin/contacts/dialednumber/add/",
                                    {"string": "Billing", "mrd": 5000, "script": "", "_save": "1"})
        assert response.status_code == 302, response.content.decode()[:2000]
        [entry] = config_entries()
        assert (entry.details, entry.target, entry.target_key) == ({"verb": "created"}, "script selector Billing",
                                                                   "selector:Billing")
        assert entry.changes == {"script selector": [None, "Billing"], "MRD": [None, "5000 Chat"],
                                 "script": [None, None]}

    def test_it_records_a_delete_with_the_values_it_had(self):
        script = RoutingScript.objects.create(name="Spare", action="release")
        self.client.force_login(make_user("superuser"))  # Admins may not delete the CCE's configuration
        response = self.client.post(admin_url(script, "delete"), {"post": "yes"})
        assert response.status_code == 302 and not RoutingScript.objects.filter(name="Spare").exists()
        [entry] = config_entries()
        assert (entry.details, entry.target) == ({"verb": "deleted"}, "routing script Spare")
        assert entry.changes == {"name": ["Spare", None], "action": ["release", None], "delay seconds": [0, None]}

    def test_it_records_each_object_deleted_by_the_delete_selected_action(self):
        spare = [RoutingScript.objects.create(name=name, action="release") for name in ("One", "Two")]
        self.client.force_login(make_user("superuser"))
        self.client.post("/admin/contacts/routingscript/", {"action": "delete_selected", "post": "yes",
                                                           "_selected_action": [s.pk for s in spare]})
        assert [e.target for e in config_entries()] == ["routing script One", "routing script Two"]

    def test_it_records_each_object_a_bulk_action_changes(self):
        # 5001 is disabled already: the action changes 5000 only, so only 5000 has an entry.
        self.client.post("/admin/contacts/mediaroutingdomain/", {"action": "disable_routing",
                                                                "_selected_action": [5000, 5001]})
        assert [(e.target, e.changes) for e in config_entries()] == [("MRD 5000 Chat",
                                                                      {"routing enabled": [True, False]})]
        self.client.post("/admin/contacts/agent/", {"action": "make_ready", "_selected_action": [
            Agent.objects.get(agent_id="1099").pk]})
        assert config_entries()[-1].changes == {"ready": [False, True]}

    def test_it_records_the_connection_switched_by_an_action(self):
        self.client.post("/admin/contacts/ccesettings/", {"action": "set_connection_down", "_selected_action": ["1"]})
        self.client.post("/admin/contacts/ccesettings/", {"action": "set_connection_down", "_selected_action": ["1"]})
        assert [e.changes for e in config_entries()] == [{"MR PG connection up": [True, False]}]

    def test_it_records_a_change_made_in_the_list(self):
        frank = Agent.objects.get(agent_id="1099")
        response = self.client.post("/admin/contacts/agent/?agent_id=1099", {
            "form-TOTAL_FORMS": 1, "form-INITIAL_FORMS": 1, "form-0-id": frank.pk, "form-0-ready": "on",
            "_save": "Save"})
        assert response.status_code == 302 and Agent.objects.get(pk=frank.pk).ready
        [entry] = config_entries()
        assert (entry.target, entry.changes) == ("agent Frank (1099)", {"ready": [False, True]})


@pytest.mark.django_db
class ConfigChangeTimelineTests:
    @pytest.fixture(autouse=True)
    def demo(self, admin):
        seed()
        self.client = Client()
        self.client.force_login(admin)

    def change(self, obj, **fields) -> None:
        assert self.client.post(admin_url(obj), form_data(obj, **fields)).status_code == 302

    def timeline(self, contact: Contact) -> str:
        body = self.client.get(f"/contacts/{contact.public_id}").content.decode()
        return body[body.index('id="timeline"'):body.index("</tbody>", body.index('id="timeline"'))]

    def email_task_discarded(self) -> Contact:
        contact = task(selector="EmailDN")
        lifecycle.transition(contact, State.DISCARDED, Reason.MEDIA_ROUTING_DISABLED, source=Source.CCE,
                             changes={"cce_mrd_id": 5001, "cce_script_selector": "EmailDN"})
        return contact

    def test_it_shows_the_changes_between_the_discard_and_the_resubmit(self, admin):
        contact = self.email_task_discarded()
        self.change(MediaRoutingDomain.objects.get(pk=5001), routing_enabled=True)
        self.change(CceSettings.load(), throttle_per_minute=500)
        actions.resubmit(contact, source=Source.DASHBOARD, user=admin)
        timeline = self.timeline(contact)
        assert "admin changed MRD 5001 Email: routing enabled no → yes" in timeline
        assert "admin changed CCE settings: throttle (contacts per minute) 375 → 500" in timeline
        # In time order: the discard, the changes, then the resubmit they explain.
        discard_at = timeline.index("NOTIFICATION_MEDIA_ROUTING_DISABLED")
        assert discard_at < timeline.index("MRD 5001 Email") < timeline.index("CCE settings")
        assert timeline.index("CCE settings") < timeline.index('class="audit" ')

    def test_it_leaves_out_changes_to_what_the_contact_does_not_use(self, admin):
        contact = self.email_task_discarded()
        self.change(MediaRoutingDomain.objects.get(pk=5000), max_tasks_in_queue=7)
        self.change(DialedNumber.objects.get(string="Sales"), script="")
        self.change(MediaRoutingDomain.objects.get(pk=5001), routing_enabled=True)
        actions.resubmit(contact, source=Source.DASHBOARD, user=admin)
        timeline = self.timeline(contact)
        assert "MRD 5001 Email" in timeline
        assert "MRD 5000" not in timeline and "Sales" not in timeline

    def test_it_shows_changes_to_the_selector_and_script_a_resubmit_names(self, admin):
        contact = discard(task(selector="Missing"))
        self.change(RoutingScript.objects.get(name="Release"), action="route")
        self.change(DialedNumber.objects.get(string="Release"), mrd=5002)
        actions.resubmit(contact, source=Source.DASHBOARD, user=admin, script_selector="Release")
        timeline = self.timeline(contact)
        assert "changed routing script Release: action release → route to agents" in timeline
        assert "changed script selector Release: MRD 5000 Chat → 5002 Waiting room" in timeline

    def test_it_leaves_out_changes_before_the_discard_and_after_the_resubmit(self, admin):
        mrd = MediaRoutingDomain.objects.get(pk=5001)
        self.change(mrd, name="Mail")
        contact = self.email_task_discarded()
        actions.resubmit(contact, source=Source.DASHBOARD, user=admin)
        self.change(MediaRoutingDomain.objects.get(pk=5001), routing_enabled=True)
        timeline = self.timeline(contact)
        assert "Email → Mail" not in timeline and "routing enabled" not in timeline
        assert len(config_entries()) == 2

    def test_it_shows_no_changes_without_a_resubmit(self):
        contact = self.email_task_discarded()
        self.change(MediaRoutingDomain.objects.get(pk=5001), routing_enabled=True)
        assert "routing enabled" not in self.timeline(contact)
