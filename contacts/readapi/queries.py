"""The read API's query parameters: the forms that validate them, which `schema` also describes.

Each endpoint's parameters are one form, so what the document says and what is refused cannot drift apart.
The contacts' filters are the contact list's own form (contacts.core.filters), with the keyset cursors added.
A parameter given empty is refused unless it is free text, where "" means no filter: the document lists no
empty value for a number, a choice or a cursor, so none is taken.
"""

from __future__ import annotations

import re

from django import forms

from contacts.core.filters import ContactFilterForm
from contacts.dashboard import lists
from contacts.workflows.models import AuditAction

# Up to 17 digits of microseconds (beyond the year 5000) and 18 of id (below 2**63): both fit their columns.
CONTACT_CURSOR = re.compile(r"^\d{1,17}\.\d{1,18}\Z")
MAX_ID = 2**63 - 1


def is_text(field: forms.Field) -> bool:
    return type(field) is forms.CharField


class Query(forms.Form):
    """A form of query parameters that refuses an empty value for anything but free text."""

    def clean(self) -> dict:
        data = super().clean()
        for name, field in self.fields.items():
            if self.data.get(name) == "" and not is_text(field):
                self.add_error(name, "Give a value, or leave the parameter out.")
        return data


class ContactCursorField(forms.RegexField):
    def __init__(self, **kwargs) -> None:
        super().__init__(regex=CONTACT_CURSOR, required=False, **kwargs)

    def clean(self, value) -> lists.Cursor | None:
        raw = super().clean(value)
        return lists.Cursor.parse(raw) if raw else None


CURSOR_HELP = "A cursor from a `{}` link ('<microseconds since epoch>.<id>')."


class ContactQuery(Query, ContactFilterForm):
    """The contact list's filters, and where the page starts (one of before, after)."""

    before = ContactCursorField(help_text=CURSOR_HELP.format("next") + " Contacts older than it.")
    after = ContactCursorField(help_text=CURSOR_HELP.format("previous") + " Contacts newer than it.")

    def clean(self) -> dict:
        data = super().clean()
        if data.get("before") and data.get("after"):
            raise forms.ValidationError("Give before or after, not both.")
        return data


class IdQuery(Query):
    before = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False,
                                help_text="The id a `next` link names: rows older than it.")


class AuditQuery(IdQuery):
    user = forms.CharField(max_length=150, required=False, help_text="Entries of this username only.")
    action = forms.ChoiceField(choices=[("", "any"), *AuditAction.choices], required=False)


class GroupsQuery(Query):
    limit = forms.IntegerField(min_value=1, max_value=100, required=False,
                               help_text="At most this many groups (default 100).")
