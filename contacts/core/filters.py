"""The contact list's filters: one form and one query, shared by the list, the CSV export and bulk jobs.

The filters live in the URL (every field optional), so a filtered view can be bookmarked, exported,
or handed to a bulk job, and each of those means exactly the same contacts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from .lifecycle import Kind, Reason, State
from .models import Contact, Feed

WINDOWS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}


class ContactFilterForm(forms.Form):
    """The list's filters; every field is optional and lives in the URL, so a view can be bookmarked."""

    q = forms.CharField(label="Search", max_length=100, required=False)
    kind = forms.ChoiceField(choices=[("", "any kind"), *Kind.choices], required=False)
    state = forms.ChoiceField(choices=[("", "any state"), *State.choices], required=False)
    reason = forms.ChoiceField(required=False)
    feed = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    selector = forms.CharField(label="Script selector", max_length=32, required=False)
    mrd = forms.RegexField(label="MRD", regex=r"^(\d{1,9}|none)$", required=False)
    window = forms.ChoiceField(
        label="Created", choices=[("", "any time"), *((k, f"last {k}") for k in WINDOWS)], required=False
    )

    def __init__(self, data, feeds: list[Feed]) -> None:
        super().__init__(data)
        reasons = [(value, label) for value, label in Reason.choices if value]
        self.fields["reason"].choices = [("", "any reason"), ("none", "— (none)"), *reasons]
        self.fields["feed"].choices = [("", "any feed"), *((f.id, str(f)) for f in feeds)]

    def filters(self) -> dict:
        data = dict(self.cleaned_data)
        data["window"] = WINDOWS.get(data.get("window") or "")
        return data


LIST_FIELDS = (
    "public_id", "kind", "feed_id", "state", "reason", "name", "title",
    "cce_mrd_id", "cce_script_selector", "script_selector", "created_at",
)  # fmt: skip


def filter_contacts(filters: dict, now: datetime | None = None) -> QuerySet:
    """Contacts matching the list's filters (the cleaned data of the list's GET form; empty = any)."""
    qs = Contact.objects.only(*LIST_FIELDS)
    exact = {"kind": "kind", "state": "state", "feed": "feed_id"}
    qs = qs.filter(**{column: filters[name] for name, column in exact.items() if filters.get(name) not in (None, "")})
    if filters.get("reason"):
        qs = qs.filter(reason="" if filters["reason"] == "none" else filters["reason"])
    if filters.get("selector"):
        qs = qs.filter(cce_script_selector="" if filters["selector"] == "none" else filters["selector"])
    if filters.get("mrd"):
        qs = qs.filter(cce_mrd_id__isnull=True) if filters["mrd"] == "none" else qs.filter(cce_mrd_id=filters["mrd"])
    if filters.get("window"):
        qs = qs.filter(created_at__gte=(now or timezone.now()) - filters["window"])
    if filters.get("q"):
        text = filters["q"]
        # icontains matches the trigram indexes of migration 0002 on PostgreSQL.
        qs = qs.filter(Q(name__icontains=text) | Q(title__icontains=text) | Q(public_id__icontains=text))
    return qs
