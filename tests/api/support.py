"""Constants and helpers shared by the CCP-compatible API's tests: bodies, positions, requests, reading answers."""

from __future__ import annotations

from xml.etree import ElementTree

from contacts.core import lifecycle
from contacts.core.models import Contact

TASK_XML = """<Task>
  <name>Ada Lovelace</name>
  <title>Order 4711 question</title>
  <description>Chat started from the order page</description>
  <scriptSelector>Sales</scriptSelector>
  <requeueOnRecovery>true</requeueOnRecovery>
  <tags><tag>web</tag><tag>orders</tag></tags>
  <variables>
    <variable><name>cv_1</name><value>4711</value></variable>
    <variable><name>user_user.order.channel</name><value>web</value></variable>
    <variable><name>mediaType</name><value>chat</value></variable>
    <variable><name>customerTier</name><value>gold</value></variable>
  </variables>
</Task>"""

CALLBACK_XML = """<Contact>
  <name>Grace Hopper</name>
  <title>Call me about my invoice</title>
  <mediaAddress>+15551234567</mediaAddress>
  <variables><variable><name>cv_1</name><value>INV-99</value></variable></variables>
</Contact>"""

FAMILIES = {"rest": "/ccp/rest/", "sm": "/ccp/"}
HOST = "http://testserver"
QUEUED_ROUTED = ("queued", "EXTERNALLY_ROUTED")
RENOTIFYING = ("queued", "TASK_RENOTIFY_REQUESTED")
TASK_CANCELLING = ("queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED")
CB_CANCELLING = ("queued", "NOTIFICATION_CCE_CALLBACK_CANCEL_REQUESTED")
HANDLED = ("handled", "EXTERNALLY_HANDLED")

PLAIN_DTD = """<?xml version="1.0"?>
<!DOCTYPE Task SYSTEM "http://example.com/task.dtd">
<Task><name>Ada</name><title>t</title><scriptSelector>Sales</scriptSelector></Task>"""
MB = 1024 * 1024
RENOTIFY_XML = (
    "<Task><scriptSelector>Support</scriptSelector><reNotifyReason>ROUTE_SERVICE_RECOVERY</reNotifyReason></Task>"
)
RENOTIFY_PATHS = ["/ccp/rest/task/{}/renotify", "/ccp-webapp/ccp/task/{}/renotify"]


def xml_fields(response) -> dict[str, str]:
    root = ElementTree.fromstring(response.content)
    return {"root": root.tag, **{child.tag: child.text or "" for child in root}}


def xml_errors(response) -> list[tuple[str, str]]:
    root = ElementTree.fromstring(response.content)
    assert root.tag == "ApiErrors"
    return [(item.findtext("ErrorType"), item.findtext("ErrorData")) for item in root.findall("ApiError")]


def create(client, kind="task", body=None, family="rest", feed=None, **extra):
    feed = feed or (100 if kind == "task" else 200)
    body = body if body is not None else (TASK_XML if kind == "task" else CALLBACK_XML)
    return client.post(f"{FAMILIES[family]}{kind}/feed/{feed}", body, content_type="application/xml", **extra)


def created(client, kind="task", family="rest", **extra) -> Contact:
    response = create(client, kind, family=family, **extra)
    assert response.status_code == 201, response.content
    return Contact.objects.get(public_id=response["Location"].rsplit("/", 1)[1])


def place(contact: Contact, state: str, reason: str = "", **fields) -> None:
    """Put a contact in a position for a test (fixture setup, not a lifecycle move)."""
    Contact.objects.filter(pk=contact.pk).update(state=state, reason=reason, **fields)


def status_url(contact: Contact, family="rest") -> str:
    return f"{FAMILIES[family]}{contact.kind}/contact/{contact.public_id}"


def task_xml(**fields) -> str:
    inner = "".join(f"<{name}>{value}</{name}>" for name, value in fields.items())
    return f"<Task>{inner}</Task>"


def minimal_task(**overrides) -> dict[str, str]:
    return {"name": "Ada", "title": "Question", "scriptSelector": "Sales", **overrides}


def renotify(client, contact: Contact, body: str = RENOTIFY_XML, path: str = RENOTIFY_PATHS[0], **extra):
    return client.put(path.format(contact.public_id), body, content_type="application/xml", **extra)


def finish_cancel(contact: Contact, *, won: bool = True) -> None:
    """What the cancel task and the mock CCE do once a cancel is in flight (C6/T7, or C7/T8)."""
    contact.refresh_from_db()
    if won:
        reason = lifecycle.Reason.TASK_CANCEL_SUCCEEDED if contact.kind == "task" else \
            lifecycle.Reason.CALLBACK_CANCEL_SUCCEEDED
        lifecycle.transition(contact, "discarded", reason, source="cce")
    else:
        lifecycle.transition(contact, *(("reserved", "EXTERNALLY_ROUTED") if contact.kind == "task" else HANDLED),
                             source="cce")
