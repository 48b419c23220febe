"""The contact list's filters: one form and one query, shared by the list, the CSV export and bulk jobs.

The filters live in the URL (every field optional), so a filtered view can be bookmarked, exported,
or handed to a bulk job, and each of those means exactly the same contacts.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django import forms
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import StrIndex, Upper
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from .lifecycle import Kind, Reason, State
from .models import Contact, Feed
from .positions import REASON_NAMES

WINDOWS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}


class ContactFilterForm(forms.Form):
    """The list's filters; every field is optional and lives in the URL, so a view can be bookmarked."""

    q = forms.CharField(label="Search", max_length=100, required=False)
    kind = forms.ChoiceField(choices=[("", "any kind"), *Kind.choices], required=False)
    state = forms.ChoiceField(choices=[("", "any state"), *State.choices], required=False)
    reason = forms.ChoiceField(required=False)
    feed = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    selector = forms.CharField(label="Script selector", max_length=32, required=False)
    # \Z, not $: $ also matches before a final newline, and RegexField does not strip ("none\n" is no MRD id).
    mrd = forms.RegexField(label="MRD", regex=r"^(\d{1,9}|none)\Z", required=False)
    window = forms.ChoiceField(
        label="Created", choices=[("", "any time"), *((k, f"last {k}") for k in WINDOWS)], required=False
    )

    def __init__(self, data, feeds: list[Feed]) -> None:
        super().__init__(data)
        reasons = [(value, REASON_NAMES[value]) for value, _ in Reason.choices if value]
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
        qs = qs.filter(text_search(filters["q"]))
    return qs


SEARCHED_FIELDS = ("name", "title", "public_id")  # public_id last: SEARCHED_FIELDS[:2] are the free texts
PUBLIC_ID_PART = re.compile(r"[0-9A-Fa-f]{1,32}")
# pg_trgm finds nothing to look up in a word shorter than a trigram, and then reads its whole index.
TRIGRAM = 3


def text_search(text: str) -> Q:
    """Contacts whose name, title or public id contains `text`, case-insensitively, found by the trigram indexes.

    `icontains` compiles to `UPPER(col) LIKE UPPER('%text%')`, the expression of migration 0002's trigram indexes.
    For a text of several words the index is asked for one of them only (`index_word`), and the whole text is
    checked on the rows it finds, with a `STRPOS` the index cannot take: a GIN index reads the whole posting list
    of every trigram it is asked for, and a common word ("order", in half of all titles) made "Order 4711" read
    646 index pages at a million contacts (8 ms) where "4711" alone reads 139 (1 ms). The answer is the same:
    every row containing the text contains each of its words.
    """
    # A public id is 32 hex digits: a text with anything else in it cannot be part of one, and asking the id's
    # index anyway fetches every contact whose id happens to contain a hex word of it ("4711": 480 at 1M).
    fields = SEARCHED_FIELDS if PUBLIC_ID_PART.fullmatch(text) else SEARCHED_FIELDS[:2]
    word = index_word(text)
    found = Q()
    for field in fields:
        if word == text:
            found |= Q(**{f"{field}__icontains": text})
        else:
            found |= Q(**{f"{field}__icontains": word}) & Q(GreaterThan(StrIndex(Upper(field), Upper(Value(text))), 0))
    return found


def index_word(text: str) -> str:
    """The word of `text` the index is asked for: the likeliest to be rare. A word with digits (an order number, a
    phone number, an id) before one without, then the longest; `text` itself when it is one word, or when no word
    is as long as a trigram."""
    words = [word for word in text.split() if len(word) >= TRIGRAM]
    if len(text.split()) <= 1 or not words:
        return text
    return max(words, key=lambda word: (any(char.isdigit() for char in word), len(word)))
