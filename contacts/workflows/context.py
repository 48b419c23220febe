"""What the contact page adds for the workflows: audit entries in the timeline, the actions, decide()'s verdict."""

from __future__ import annotations

from django.http import HttpRequest

from contacts.core import lifecycle
from contacts.core.models import Contact
from contacts.core.permissions import MANAGE_CONTACTS

from . import actions, audit
from .models import AuditEntry


def detail_context(request: HttpRequest, contact: Contact, timeline: list) -> dict:
    """What the contact page adds for the workflows: its audit entries merged into the timeline, with the
    configuration changes made between a discard and its resubmit, the cancel and resubmit controls for
    admins, and decide()'s verdict on a discard."""
    entries = list(AuditEntry.objects.filter(contact_public_id=contact.public_id).order_by("id"))
    changes = audit.changes_before_resubmits(contact, timeline, entries)
    for entry in [*entries, *changes]:
        entry.is_audit = True
    for change in changes:
        change.is_config = True
    merged = sorted([*timeline, *entries, *changes], key=lambda row: (row.created_at, getattr(row, "is_audit", False)))
    answer = actions.resubmittable(contact)
    return {
        "timeline": merged,
        "can_manage": request.user.has_perm(MANAGE_CONTACTS),
        "resubmittable": answer,
        "cancellable": actions.cancellable(contact),
        "verdict": actions.cause_still_present(contact) if answer else None,
        "workflow": {"kind": contact.kind, "cancel_from": actions.cancel_from(contact.kind),
                     "cancel_succeeded": sorted(lifecycle.CANCEL_SUCCEEDED)},
    }
