"""The CCP API's answers (spec §4): status and social contact documents and `<ApiErrors>`, as XML or JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from xml.etree import ElementTree

from contacts.core.lifecycle import Kind, State
from contacts.core.models import Contact

INVALID_INPUT = "invalidInput"
# 429, with Retry-After: too many wrong feed tokens, or over the abuse guard's rate (contacts.api.throttle).
TOO_MANY_REQUESTS = "tooManyRequests"


XML_CONTENT_TYPE = "application/xml"


JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class ApiError:
    """One `<ApiError>`: what went wrong (`type`), with which field (`data`), in words (`message`)."""

    type: str
    data: str
    message: str


ROOTS = {Kind.TASK: "Task", Kind.CALLBACK: "Contact"}


@dataclass(frozen=True)
class Document:
    """A flat response document: the XML root and its child elements (the JSON object's keys), in order."""

    root: str
    fields: dict[str, str | int]


def status_document(contact: Contact) -> Document:
    """The current family's status: `<Task>`/`<Contact>`, upper-case status (spec §4)."""
    fields: dict[str, str | int] = {"status": contact.state.upper(), "statusReason": contact.reason}
    if contact.state == State.QUEUED:
        fields["estimatedWaitTime"] = _estimated_wait(contact)
    if contact.kind == Kind.TASK and contact.state in {State.RESERVED, State.HANDLED}:
        fields["taskID"] = contact.cce_task_id
        fields["agentID"] = contact.agent_id
    return Document(ROOTS[contact.kind], fields)


def social_contact_document(contact: Contact, ref_url: str) -> Document:
    """The SocialMiner-era status and the social contact: `<SocialContact>`, lower-case status."""
    fields: dict[str, str | int] = {
        "id": contact.public_id,
        "refURL": ref_url,
        "author": contact.name,
        "title": contact.title,
        "status": contact.state.lower(),
        "statusReason": contact.reason.lower(),
    }
    if contact.state == State.QUEUED:
        fields["estimatedWaitTime"] = _estimated_wait(contact)
    return Document("SocialContact", fields)


def _estimated_wait(contact: Contact) -> int:
    return -1 if contact.estimated_wait is None else contact.estimated_wait


def render(document: Document, as_json: bool) -> tuple[bytes, str]:
    """(body, content type) of a status document."""
    if as_json:
        return json.dumps(document.fields).encode(), JSON_CONTENT_TYPE
    root = ElementTree.Element(document.root)
    for name, value in document.fields.items():
        ElementTree.SubElement(root, name).text = str(value)
    return _xml_bytes(root), XML_CONTENT_TYPE


def render_errors(errors: list[ApiError], as_json: bool) -> tuple[bytes, str]:
    """(body, content type) of `<ApiErrors>` or `{"apiErrors": [...]}`."""
    if as_json:
        items = [{"errorType": e.type, "errorData": e.data, "errorMessage": e.message} for e in errors]
        return json.dumps({"apiErrors": items}).encode(), JSON_CONTENT_TYPE
    root = ElementTree.Element("ApiErrors")
    for error in errors:
        item = ElementTree.SubElement(root, "ApiError")
        ElementTree.SubElement(item, "ErrorType").text = error.type
        ElementTree.SubElement(item, "ErrorData").text = error.data
        ElementTree.SubElement(item, "ErrorMessage").text = error.message
    return _xml_bytes(root), XML_CONTENT_TYPE


def _xml_bytes(root: ElementTree.Element) -> bytes:
    declaration = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    return declaration + ElementTree.tostring(root, encoding="utf-8", xml_declaration=False)
