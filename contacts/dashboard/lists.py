"""The contact list's pages and the contact detail: keyset pagination on (created_at, id), one query each.

Which contacts a list shows is `contacts.core.filters`; this module pages them and reads one contact
with its timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet

from contacts.core.formats import format_age
from contacts.core.models import Contact, Transition

LIST_PAGE = 50


@dataclass(frozen=True)
class Cursor:
    """A position in the list's (created_at, id) order; in URLs as '<microseconds since epoch>.<id>'."""

    created_at: datetime
    id: int

    EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

    def __str__(self) -> str:
        delta = self.created_at - self.EPOCH
        return f"{delta // timedelta(microseconds=1)}.{self.id}"

    @classmethod
    def parse(cls, raw: str) -> Cursor | None:
        micros, _, pk = raw.partition(".")
        try:
            return cls(cls.EPOCH + timedelta(microseconds=int(micros)), int(pk))
        except (ValueError, OverflowError):
            return None

    @classmethod
    def of(cls, contact: Contact) -> Cursor:
        return cls(contact.created_at, contact.pk)


@dataclass
class ContactPage:
    contacts: list[Contact]
    newer: Cursor | None = None  # pass as ?after= to see the page before this one
    older: Cursor | None = None  # pass as ?before= to see the page after this one
    first: bool = True


def contact_page(qs: QuerySet, before: Cursor | None = None, after: Cursor | None = None) -> ContactPage:
    """One page of `qs`, newest first, by keyset on (created_at, id): no OFFSET, stable under inserts."""
    if after is not None:
        newer_q = Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, id__gt=after.id)
        rows = list(qs.filter(newer_q).order_by("created_at", "id")[: LIST_PAGE + 1])
        more_newer = len(rows) > LIST_PAGE
        contacts = rows[:LIST_PAGE][::-1]
        page = ContactPage(contacts, first=not more_newer)
        page.newer = Cursor.of(contacts[0]) if more_newer else None
        page.older = Cursor.of(contacts[-1]) if contacts else None
        return page
    if before is not None:
        qs = qs.filter(Q(created_at__lt=before.created_at) | Q(created_at=before.created_at, id__lt=before.id))
    rows = list(qs.order_by("-created_at", "-id")[: LIST_PAGE + 1])
    contacts = rows[:LIST_PAGE]
    page = ContactPage(contacts, first=before is None)
    page.newer = Cursor.of(contacts[0]) if before is not None and contacts else None
    page.older = Cursor.of(contacts[-1]) if len(rows) > LIST_PAGE else None
    return page


def contact_detail(public_id: str) -> Contact | None:
    """The contact with its feed and resubmission lineage (both directions) in one query."""
    qs = Contact.objects.select_related("feed", "resubmitted_from", "resubmission")
    return qs.filter(public_id=public_id).first()


def timeline(contact: Contact) -> list[Transition]:
    """Every move of the contact in id order; each row gets `.spent`, the time in the state it left."""
    rows = list(contact.transitions.select_related("user").order_by("id"))
    previous = None
    for row in rows:
        row.spent = format_age((row.created_at - previous.created_at).total_seconds()) if previous else "—"
        previous = row
    return rows
