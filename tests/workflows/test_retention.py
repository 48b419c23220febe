"""Retention: finished contacts older than RETENTION_DAYS go, in batches; unfinished and recent ones stay, and so
do audit entries and the contacts that resubmitted a purged one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.core import lifecycle
from contacts.core.lifecycle import Reason, Source, State
from contacts.core.models import Contact, Transition
from contacts.workflows import actions, retention
from contacts.workflows.models import AuditEntry
from tests.workflow_support import callback, discard, make_user, task

OLD = timezone.now() - timedelta(days=40)


def age(*contacts: Contact) -> None:
    Contact.objects.filter(pk__in=[c.pk for c in contacts]).update(updated_at=OLD)


def handled(contact: Contact) -> Contact:
    for state, reason in [("queued", "EXTERNALLY_ROUTED"), ("reserved", "EXTERNALLY_ROUTED"),
                          ("handled", "EXTERNALLY_HANDLED")]:
        lifecycle.transition(contact, state, reason, source=Source.CCE)
    return contact


def exists(contact: Contact) -> bool:
    return Contact.objects.filter(pk=contact.pk).exists()


@pytest.mark.django_db
class PurgeTests:
    @pytest.fixture(autouse=True)
    def thirty_days(self, settings):
        settings.RETENTION_DAYS = 30

    def test_it_purges_old_finished_contacts_with_their_transitions(self):
        old_handled, old_discarded = handled(task()), discard(task())
        age(old_handled, old_discarded)
        assert retention.purge() == 2
        assert not Contact.objects.exists() and not Transition.objects.exists()

    def test_it_keeps_unfinished_contacts_however_old(self):
        waiting = [task(), callback(), task()]
        lifecycle.transition(waiting[1], State.QUEUED, Reason.EXTERNALLY_HANDLED, source=Source.CCE)
        lifecycle.transition(waiting[2], State.QUEUED, Reason.EXTERNALLY_ROUTED, source=Source.CCE)
        lifecycle.transition(waiting[2], State.RESERVED, Reason.EXTERNALLY_ROUTED, source=Source.CCE)
        age(*waiting)
        assert retention.purge() == 0
        assert all(exists(c) for c in waiting)

    def test_it_keeps_recently_finished_contacts(self):
        recent = discard(task())
        assert retention.purge() == 0 and exists(recent)

    def test_it_keeps_the_audit_entries_of_purged_contacts(self):
        admin = make_user("admin")
        original = discard(callback())
        new = actions.resubmit(original, source=Source.DASHBOARD, user=admin, comment="why")
        age(original)
        assert retention.purge() == 1
        entry = AuditEntry.objects.get()
        assert (entry.contact, entry.contact_public_id, entry.comment) == (None, original.public_id, "why")
        new.refresh_from_db()
        assert new.resubmitted_from is None and new.attempt == 2

    def test_it_deletes_in_batches_until_done(self):
        old = [discard(task()) for _ in range(5)]
        age(*old)
        assert retention.purge(batch=2) == 5

    def test_it_stops_after_its_batch_budget(self):
        old = [discard(task()) for _ in range(5)]
        age(*old)
        assert retention.purge(batch=2, max_batches=2) == 4
        assert Contact.objects.count() == 1

    def test_it_keeps_everything_when_retention_is_zero(self, settings):
        settings.RETENTION_DAYS = 0
        old = discard(task())
        age(old)
        assert retention.purge() == 0 and exists(old)

    def test_it_runs_as_a_beat_task(self):
        old = discard(task())
        age(old)
        retention.purge_finished_contacts()
        assert not exists(old)
