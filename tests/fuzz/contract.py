"""The fuzz suite's oracle: what the contract says a create request stores or refuses (spec §4, §6).

Restated from the spec and the README ("Choices where the contract is silent"), apart from contacts.api, so the
suite checks the API against the contract rather than against itself. A reader per shape (XML, JSON, query
string, in the modules beside this one) turns what a client sent into a `Sent`; `judge()` applies the limits and
says which fields a 400 may name, or which values an accepted create stores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Wire name -> (Contact field, at most this many characters, required); §6 and "Callbacks require only mediaAddress".
TEXT_FIELDS = {
    "task": {
        "name": ("name", 100, True),
        "title": ("title", 255, True),
        "description": ("description", 4000, False),
        "scriptSelector": ("script_selector", 32, True),
    },
    "callback": {
        "name": ("name", 100, False),
        "title": ("title", 255, False),
        "description": ("description", 4000, False),
        "mediaAddress": ("media_address", 40, True),
    },
}
SCALARS = ("name", "title", "description", "scriptSelector", "mediaAddress", "requeueOnRecovery")
# A renotify body's fields (spec §4, both optional) and their limits (the reason's is the API's choice).
RENOTIFY_FIELDS = {"scriptSelector": 32, "reNotifyReason": 255}


def limits(kind: str) -> dict[str, int]:
    """The text fields of a create of `kind` and their limits, by wire name."""
    return {wire: max_chars for wire, (_, max_chars, _) in TEXT_FIELDS[kind].items()}
ROOTS = {"task": "Task", "callback": "Contact"}
MAX_TAGS, MAX_VARIABLES = 20, 100
MAX_BODY = 1024 * 1024

# Characters XML 1.0 carries; everything else (NUL, most C0 controls, U+FFFE/U+FFFF, lone surrogates) is refused.
_XML_TEXT = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
# Carried by XML but refused too: DEL and the C1 controls, the bidirectional embeddings, overrides and isolates.
_SPOOFING = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def is_xml_text(text: str) -> bool:
    return _XML_TEXT.fullmatch(text) is not None


def allowed(text: str) -> bool:
    """Whether the API keeps `text` (a value, a tag, a variable's name and value)."""
    return is_xml_text(text) and not _SPOOFING.search(text)


@dataclass
class Sent:
    """What a client sent, read as the contract reads each shape: trimmed scalars (empty ones not sent), tags,
    variables, the fields the reader itself refused, or why the whole body was refused."""

    scalars: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    variables: list[tuple[str, str]] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    whole: str = ""  # "body" or "query" when nothing in it can be read
    status: int = 400  # the answer to a refused whole (413 for a body over 1 MB)

    def put(self, name: str, value: str) -> None:
        """A scalar as read from an XML element: a second non-empty one of the same name is refused."""
        if name in self.scalars:
            self.refused.add(name)
        elif value:
            self.scalars[name] = value


@dataclass(frozen=True)
class Verdict:
    """`faults`: every field the request breaks (empty: it must be accepted); a 400 names some of them, and only
    them. `stored`: what an accepted create stores, by Contact field."""

    faults: frozenset[str]
    status: int
    stored: dict

    @property
    def accepted(self) -> bool:
        return not self.faults


def refused_whole(data: str, status: int = 400) -> Sent:
    return Sent(whole=data, status=status)


def judge(kind: str, sent: Sent) -> Verdict:
    """The outcome the contract gives `sent` for a create of `kind`."""
    if sent.whole:
        return Verdict(frozenset({sent.whole}), sent.status, {})
    faults = set(sent.refused)
    stored: dict = {"name": "", "title": "", "description": "", "script_selector": "", "media_address": "",
                    "requeue_on_recovery": False}
    for wire, (model, max_chars, required) in TEXT_FIELDS[kind].items():
        value = sent.scalars.get(wire, "")
        if (required and not value) or len(value) > max_chars or not allowed(value):
            faults.add(wire)
        if wire == "name" and len(value.splitlines()) > 1:
            faults.add(wire)
        stored[model] = value
    if kind == "task":
        flag = sent.scalars.get("requeueOnRecovery", "false").lower()
        if flag not in ("true", "false"):
            faults.add("requeueOnRecovery")
        stored["requeue_on_recovery"] = flag == "true"
    if len(sent.tags) > MAX_TAGS or not all(allowed(tag) for tag in sent.tags):
        faults.add("tags")
    if len(sent.variables) > MAX_VARIABLES or not all(name and allowed(name + value) for name, value in sent.variables):
        faults.add("variables")
    stored["tags"] = list(sent.tags)
    stored["variables"] = [{"name": name, "value": value} for name, value in sent.variables]
    return Verdict(frozenset(faults), 400 if faults else 201, stored)


def judge_renotify(sent: Sent) -> Verdict:
    """A renotify body: both fields optional; `stored` is the new script selector (None: the old one stays) and
    the reason (the move's comment)."""
    if sent.whole:
        return Verdict(frozenset({sent.whole}), sent.status, {})
    faults = set(sent.refused)
    for wire, max_chars in RENOTIFY_FIELDS.items():
        value = sent.scalars.get(wire, "")
        if len(value) > max_chars or not allowed(value):
            faults.add(wire)
    stored = {"script_selector": sent.scalars.get("scriptSelector"), "comment": sent.scalars.get("reNotifyReason", "")}
    return Verdict(frozenset(faults), 400 if faults else 200, stored)
