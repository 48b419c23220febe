"""The CCP wire format in (spec §4, §6): bodies and query strings in, validated payloads out.

The answers (status documents, `<ApiErrors>`) are `contacts.api.documents`.

Every input shape (XML, JSON, query string) is first read into the same `_Sent` record, then
`_validate` applies the limits of §6 once, so the three shapes cannot drift apart. Parsing never
raises: it returns (payload, errors), and errors name the field and the limit it breaks.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import asdict, dataclass, field
from xml.etree import ElementTree

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from django.http import QueryDict

from contacts.core.lifecycle import Kind

from .documents import INVALID_INPUT, JSON_CONTENT_TYPE, ROOTS, ApiError

MAX_TAGS = 20
MAX_VARIABLES = 100

# Characters XML 1.0 cannot carry; also keeps NUL (refused by PostgreSQL) and lone surrogates out.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Characters XML carries but a supervisor's screen must not get: DEL and the C1 controls (invisible, or
# terminal escapes in a log), and the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
# U+2066–U+2069), with which a name displays as another one ("Ada\u202eecilA"). Refused like the above.
_SPOOFING_CHAR = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Limit:
    """A text field of §6: its wire name, model field, length limit and whether it must be given."""

    wire: str
    model: str
    max_chars: int
    required: bool = False
    single_line: bool = False


# Callbacks require only mediaAddress: the contract marks nothing else required for them, and a
# client that sends just a phone number must keep working. The limits apply whenever a field is sent.
LIMITS: dict[str, tuple[Limit, ...]] = {
    Kind.TASK: (
        Limit("name", "name", 100, required=True, single_line=True),
        Limit("title", "title", 255, required=True),
        Limit("description", "description", 4000),
        Limit("scriptSelector", "script_selector", 32, required=True),
    ),
    Kind.CALLBACK: (
        Limit("name", "name", 100, single_line=True),
        Limit("title", "title", 255),
        Limit("description", "description", 4000),
        Limit("mediaAddress", "media_address", 40, required=True),
    ),
}
# The reason is kept as the transition's comment; its limit is our choice.
RENOTIFY_LIMITS = (Limit("scriptSelector", "script_selector", 32), Limit("reNotifyReason", "reason", 255))
_REFUSED = {
    DTDForbidden: "a document type declaration (DTD)",
    EntitiesForbidden: "entity declarations",
    ExternalReferenceForbidden: "external references",
}
_SCALARS = frozenset({"name", "title", "description", "scriptSelector", "mediaAddress", "requeueOnRecovery"})


@dataclass
class ContactPayload:
    """A validated create request, keyed by `Contact` field names."""

    name: str = ""
    title: str = ""
    description: str = ""
    script_selector: str = ""
    media_address: str = ""
    requeue_on_recovery: bool = False
    tags: list[str] = field(default_factory=list)
    variables: list[dict[str, str]] = field(default_factory=list)

    def model_fields(self) -> dict:
        return asdict(self)


@dataclass
class RenotifyPayload:
    """A validated renotify request; `script_selector` is None when the old one stays."""

    script_selector: str | None = None
    reason: str = ""


@dataclass
class _Sent:
    """What the client sent, whatever the shape: scalars by wire name (empty = not sent)."""

    scalars: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    variables: list[tuple[str, str]] = field(default_factory=list)
    errors: list[ApiError] = field(default_factory=list)

    def refuse(self, data: str, message: str) -> None:
        self.errors.append(ApiError(INVALID_INPUT, data, message))


# --- public entry points -------------------------------------------------------------------------


def parse_body(kind: str, body: bytes, content_type: str) -> tuple[ContactPayload | None, list[ApiError]]:
    """A create request's body: JSON for `application/json` (or `+json`), else XML rooted at `<Task>`/`<Contact>`."""
    sent = _read_body(body, content_type, ROOTS[kind])
    if sent.errors:  # a body we could not read has no fields worth checking
        return None, sent.errors
    return _validate(kind, sent)


def parse_query(kind: str, query: QueryDict) -> tuple[ContactPayload | None, list[ApiError]]:
    """A create request sent as a query string; empty values are ignored (browser forms send every field)."""
    sent = _Sent()
    for key, values in query.lists():
        value = values[-1].strip()
        if key.startswith("variable_"):
            if value:
                sent.variables.append((key.removeprefix("variable_"), value))
        elif key == "tags":
            sent.tags.extend(tag.strip() for item in values for tag in item.split(",") if tag.strip())
        elif key in _SCALARS and value:
            sent.scalars[key] = value
    return _validate(kind, sent)


def parse_renotify(body: bytes, content_type: str) -> tuple[RenotifyPayload | None, list[ApiError]]:
    """`<Task><scriptSelector/><reNotifyReason/></Task>`, both optional; an empty body changes nothing."""
    if not body.strip():
        return RenotifyPayload(), []
    sent = _read_body(body, content_type, "Task", scalars=frozenset(limit.wire for limit in RENOTIFY_LIMITS))
    for limit in RENOTIFY_LIMITS if not sent.errors else ():
        _check_text(sent, limit, sent.scalars.get(limit.wire, ""))
    if sent.errors:
        return None, sent.errors
    return RenotifyPayload(sent.scalars.get("scriptSelector"), sent.scalars.get("reNotifyReason", "")), []


def is_json(content_type: str) -> bool:
    return content_type == JSON_CONTENT_TYPE or content_type.endswith("+json")


# --- reading the shapes --------------------------------------------------------------------------


def _read_body(body: bytes, content_type: str, root: str, scalars: frozenset[str] = _SCALARS) -> _Sent:
    sent = _Sent()
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        sent.refuse("body", f"the body is not valid UTF-8 (byte {exc.start})")
        return sent
    if is_json(content_type):
        _read_json(sent, body, scalars)
    else:
        _read_xml(sent, body, root, scalars)
    return sent


# The XML declaration's encoding, if it names one: `<?xml version="1.0" encoding="…"?>` at the very start.
_DECLARED_ENCODING = re.compile(rb"""\A(?:\xef\xbb\xbf)?\s*<\?xml\b[^>]*?\bencoding\s*=\s*(["'])(.*?)\1""", re.DOTALL)
# What a body may declare: the contract's bodies are UTF-8 (US-ASCII is a subset, so it is read alike).
_READABLE_ENCODINGS = frozenset({"utf-8", "ascii"})


def _declared_encoding_refusal(body: bytes) -> str | None:
    """Why the body's declared encoding is refused (unknown, or not UTF-8), or None if it may be read.

    The body was already decoded as UTF-8; a parser told to read it in another encoding would raise on
    an unknown one (LookupError) or store mojibake for a known one (ISO-8859-1 over UTF-8 bytes).
    """
    found = _DECLARED_ENCODING.match(body)
    if found is None:
        return None
    declared = found.group(2).decode("ascii", "replace")
    try:
        name = codecs.lookup(declared).name
    except (LookupError, ValueError):  # ValueError: a name with a NUL in it
        return f"the XML declaration names an unknown encoding {declared!r}; bodies are UTF-8"
    if name not in _READABLE_ENCODINGS:
        return f"the XML declaration names the encoding {declared!r}; bodies are UTF-8"
    return None


def _read_xml(sent: _Sent, body: bytes, root_name: str, scalars: frozenset[str]) -> None:
    if refusal := _declared_encoding_refusal(body):
        return sent.refuse("body", refusal)
    try:
        # Refused before anything is expanded or fetched: billion laughs, XXE, remote DTDs.
        root = SafeElementTree.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        return sent.refuse("body", f"XML with {_REFUSED.get(type(exc), 'a DTD or entities')} is refused")
    except (ElementTree.ParseError, ValueError) as exc:
        return sent.refuse("body", f"the body is not well-formed XML ({exc})")
    if _local(root.tag) != root_name:
        return sent.refuse("body", f"the root element must be <{root_name}>")
    for child in root:
        name = _local(child.tag)
        if name in scalars:
            _put_scalar(sent, name, (child.text or "").strip())
        elif name == "tags":
            sent.tags.extend(text for tag in _children(child, "tag") if (text := (tag.text or "").strip()))
        elif name == "variables":
            for variable in _children(child, "variable"):
                sent.variables.append((_child_text(variable, "name"), _child_text(variable, "value")))


def _read_json(sent: _Sent, body: bytes, scalars: frozenset[str]) -> None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return sent.refuse("body", f"the body is not valid JSON ({str(exc)[:200]})")
    if not isinstance(document, dict):
        return sent.refuse("body", "the body must be a JSON object")
    for key, value in document.items():
        if key in scalars:
            if isinstance(value, bool) and key == "requeueOnRecovery":
                value = "true" if value else "false"
            if value is not None and not isinstance(value, str):
                sent.refuse(key, f"{key} must be a string")
            else:
                _put_scalar(sent, key, (value or "").strip())
        elif key == "tags":
            _read_json_tags(sent, value)
        elif key == "variables":
            _read_json_variables(sent, value)


def _read_json_tags(sent: _Sent, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        return sent.refuse("tags", "tags must be a list of strings")
    sent.tags.extend(tag.strip() for tag in value if tag.strip())


def _read_json_variables(sent: _Sent, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        return sent.refuse("variables", 'variables must be a list of {"name": ..., "value": ...} objects')
    for item in value:
        name, text = item.get("name"), item.get("value")
        if not isinstance(name, str | None) or not isinstance(text, str | None):
            return sent.refuse("variables", "a variable's name and value must be strings")
        sent.variables.append(((name or "").strip(), (text or "").strip()))


def _put_scalar(sent: _Sent, name: str, value: str) -> None:
    if name in sent.scalars:
        sent.refuse(name, f"{name} is given more than once")
    elif value:
        sent.scalars[name] = value


def _local(tag: object) -> str:
    """The element name without its namespace; comments and processing instructions have none."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [child for child in element if _local(child.tag) == name]


def _child_text(element: ElementTree.Element, name: str) -> str:
    found = _children(element, name)
    return (found[0].text or "").strip() if found else ""


# --- the limits of §6, in one place --------------------------------------------------------------


def _validate(kind: str, sent: _Sent) -> tuple[ContactPayload | None, list[ApiError]]:
    payload = ContactPayload()
    for limit in LIMITS[kind]:
        value = sent.scalars.get(limit.wire, "")
        if not value and limit.required:
            sent.refuse(limit.wire, f"{limit.wire} is required")
        _check_text(sent, limit, value)
        setattr(payload, limit.model, value)
    if kind == Kind.TASK:
        payload.requeue_on_recovery = _boolean(sent, "requeueOnRecovery")
    if len(sent.tags) > MAX_TAGS:
        sent.refuse("tags", f"at most {MAX_TAGS} tags are allowed (got {len(sent.tags)})")
    for tag in sent.tags:
        _check_chars(sent, "tags", tag)
    payload.tags = list(sent.tags)
    _validate_variables(sent, payload)
    if sent.errors:
        return None, sent.errors
    return payload, []


def _validate_variables(sent: _Sent, payload: ContactPayload) -> None:
    if len(sent.variables) > MAX_VARIABLES:
        sent.refuse("variables", f"at most {MAX_VARIABLES} variables are allowed (got {len(sent.variables)})")
    for position, (name, value) in enumerate(sent.variables, start=1):
        if not name:
            sent.refuse("variables", f"variable {position} has no name")
        _check_chars(sent, "variables", name + value)
    # Values longer than the CCE takes (cv_n > 40 chars, ECC limits) pass here on purpose:
    # the contract has the CCE discard them later with NOTIFICATION_INVALID_FIELD_LENGTH.
    payload.variables = [{"name": name, "value": value} for name, value in sent.variables]


def _check_text(sent: _Sent, limit: Limit, value: str) -> None:
    if len(value) > limit.max_chars:
        sent.refuse(limit.wire, f"{limit.wire} must be at most {limit.max_chars} characters (got {len(value)})")
    if limit.single_line and len(value.splitlines()) > 1:
        sent.refuse(limit.wire, f"{limit.wire} must not contain line breaks")
    _check_chars(sent, limit.wire, value)


def _check_chars(sent: _Sent, data: str, value: str) -> None:
    bad = _NOT_XML_CHAR.search(value) or _SPOOFING_CHAR.search(value)
    if bad:
        sent.refuse(data, f"{data} contains a character that is not allowed (U+{ord(bad.group()):04X})")


def _boolean(sent: _Sent, wire: str) -> bool:
    value = sent.scalars.get(wire, "false").lower()
    if value not in {"true", "false"}:
        sent.refuse(wire, f"{wire} must be true or false")
    return value == "true"
