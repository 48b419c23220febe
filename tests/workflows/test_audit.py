"""The audit trail: what is recorded (who, what, when, why), the contact timeline that merges it, and the
audit page's filters and keyset pages."""

from __future__ import annotations

import re

import pytest

from contacts.cce.models import CceSettings
from contacts.core.lifecycle import Source
from contacts.core.models import Contact
from contacts.workflows import actions
from contacts.workflows import jobs as workflows
from contacts.workflows.models import AuditAction, AuditEntry
from tests.workflow_support import callback, client_for, discard, make_user, task


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
