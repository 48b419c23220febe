"""The CCP-compatible API (spec §4, §6) through Django's test client, on both path families."""

from __future__ import annotations

import io
import json
import urllib.parse
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.test import Client, override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts import api, lifecycle
from contacts.models import Contact, Feed, FeedType, Transition

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


@pytest.fixture
def feeds(db) -> dict[str, Feed]:
    return {
        "task": Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK),
        "callback": Feed.objects.create(id=200, name="Callbacks", type=FeedType.CALLBACK),
    }


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


@pytest.mark.django_db
class TaskCreateTests:
    @pytest.mark.parametrize("family", ["rest", "sm"])
    def test_it_creates_from_xml_with_201_and_a_location_in_the_same_family(self, client, feeds, family):
        response = create(client, family=family)
        assert response.status_code == 201
        assert response.content == b""
        contact = Contact.objects.get()
        assert response["Location"] == f"{HOST}{FAMILIES[family]}task/contact/{contact.public_id}"

    def test_it_stores_every_field_of_the_payload(self, client, feeds):
        contact = created(client)
        assert (contact.kind, contact.feed_id, contact.pair) == ("task", 100, ("unread", ""))
        assert (contact.name, contact.title) == ("Ada Lovelace", "Order 4711 question")
        assert contact.script_selector == "Sales"
        assert contact.description == "Chat started from the order page"
        assert contact.requeue_on_recovery is True
        assert contact.tags == ["web", "orders"]
        assert contact.variables[0] == {"name": "cv_1", "value": "4711"}
        assert [v["name"] for v in contact.variables][1:] == ["user_user.order.channel", "mediaType", "customerTier"]
        assert Transition.objects.get(contact=contact).source == "api"

    def test_it_gives_a_random_upper_case_hex_id(self, client, feeds):
        first, second = created(client), created(client)
        assert len(first.public_id) == 32 and first.public_id == first.public_id.upper()
        assert first.public_id != second.public_id

    @pytest.mark.parametrize("family", ["rest", "sm"])
    def test_it_creates_from_json(self, client, feeds, family):
        body = {**minimal_task(), "tags": ["web"], "variables": [{"name": "cv_1", "value": "1"}],
                "requeueOnRecovery": True}
        response = client.post(f"{FAMILIES[family]}task/feed/100", body, content_type="application/json")
        assert response.status_code == 201
        contact = Contact.objects.get()
        assert contact.tags == ["web"] and contact.variables == [{"name": "cv_1", "value": "1"}]
        assert contact.requeue_on_recovery is True

    @pytest.mark.parametrize("family", ["rest", "sm"])
    def test_it_creates_from_a_query_string_ignoring_empty_fields_and_the_content_type(self, client, feeds, family):
        query = ("name=Ada+Lovelace&scriptSelector=Sales&title=Order+question&description=&tags=web,,orders"
                 "&variable_cv_1=4711&variable_cv_2=&variable_user_user.test.task=&requeueOnRecovery=")
        response = client.get(f"{FAMILIES[family]}task/feed/100?{query}", content_type="application/xml")
        assert response.status_code == 201, response.content
        contact = Contact.objects.get()
        assert response["Location"] == f"{HOST}{FAMILIES[family]}task/contact/{contact.public_id}"
        assert contact.variables == [{"name": "cv_1", "value": "4711"}]
        assert contact.tags == ["web", "orders"]
        assert (contact.description, contact.requeue_on_recovery) == ("", False)

    def test_it_serves_a_trailing_slash_without_redirecting(self, client, feeds):
        response = client.post("/ccp/rest/task/feed/100/", TASK_XML, content_type="application/xml")
        assert response.status_code == 201
        assert not response["Location"].endswith("/")

    def test_it_is_exempt_from_csrf(self, feeds):
        response = create(Client(enforce_csrf_checks=True))
        assert response.status_code == 201

    def test_it_refuses_a_body_with_the_wrong_root(self, client, feeds):
        response = create(client, body=CALLBACK_XML.replace("mediaAddress", "scriptSelector"))
        assert response.status_code == 400
        assert xml_errors(response) == [("invalidInput", "body")]

    def test_it_answers_405_to_other_methods(self, client, feeds):
        assert client.put("/ccp/rest/task/feed/100", TASK_XML).status_code == 405


@pytest.mark.django_db
class CallbackCreateTests:
    @pytest.mark.parametrize("family", ["rest", "sm"])
    def test_it_creates_from_xml_with_a_location_in_the_same_family(self, client, feeds, family):
        response = create(client, "callback", family=family)
        assert response.status_code == 201
        contact = Contact.objects.get()
        assert response["Location"] == f"{HOST}{FAMILIES[family]}callback/contact/{contact.public_id}"
        assert (contact.kind, contact.media_address, contact.name) == ("callback", "+15551234567", "Grace Hopper")

    def test_it_creates_from_a_query_string(self, client, feeds):
        response = client.get("/ccp/callback/feed/200?name=Grace&title=&mediaAddress=%2B15551234567&tags=")
        assert response.status_code == 201
        assert Contact.objects.get().media_address == "+15551234567"

    def test_it_creates_from_json(self, client, feeds):
        response = client.post("/ccp/rest/callback/feed/200", {"mediaAddress": "555"}, content_type="application/json")
        assert response.status_code == 201

    def test_it_needs_only_a_media_address(self, client, feeds):
        response = create(client, "callback", body="<Contact><mediaAddress>555</mediaAddress></Contact>")
        assert response.status_code == 201

    def test_it_requires_a_media_address(self, client, feeds):
        response = create(client, "callback", body="<Contact><name>Grace</name></Contact>")
        assert response.status_code == 400
        assert xml_errors(response) == [("invalidInput", "mediaAddress")]


@pytest.mark.django_db
class FeedTests:
    @pytest.mark.parametrize("feed", ["999", "abc", "99999999999", "1" * 40])
    def test_it_answers_404_for_an_unknown_feed(self, client, feeds, feed):
        response = create(client, feed=feed)
        assert response.status_code == 404
        assert xml_errors(response) == [("notFound", "feedId")]

    def test_it_refuses_a_task_sent_to_a_callback_feed(self, client, feeds):
        response = create(client, "task", feed=200)
        assert response.status_code == 400
        assert xml_errors(response) == [("invalidInput", "feedId")]

    def test_it_refuses_a_callback_sent_to_a_task_feed(self, client, feeds):
        assert create(client, "callback", feed=100).status_code == 400

    def test_it_refuses_a_disabled_feed(self, client, feeds):
        Feed.objects.filter(pk=100).update(enabled=False)
        assert create(client).status_code == 400
        assert not Contact.objects.exists()


# (kind, field, value at the limit, value one over)
EDGES = [
    ("task", "name", "n" * 100, "n" * 101),
    ("task", "title", "t" * 255, "t" * 256),
    ("task", "description", "d" * 4000, "d" * 4001),
    ("task", "scriptSelector", "s" * 32, "s" * 33),
    ("callback", "name", "n" * 100, "n" * 101),
    ("callback", "title", "t" * 255, "t" * 256),
    ("callback", "description", "d" * 4000, "d" * 4001),
    ("callback", "mediaAddress", "5" * 40, "5" * 41),
]
CALLBACK_BASE = {"mediaAddress": "555"}


def body_for(kind: str, fields: dict, tags: int = 0, variables: int = 0, as_json: bool = False) -> str:
    fields = {**(minimal_task() if kind == "task" else CALLBACK_BASE), **fields}
    if as_json:
        document = {**fields, "tags": [f"t{i}" for i in range(tags)],
                    "variables": [{"name": f"v{i}", "value": "x"} for i in range(variables)]}
        return json.dumps(document)
    root = "Task" if kind == "task" else "Contact"
    inner = "".join(f"<{name}>{value}</{name}>" for name, value in fields.items())
    inner += "<tags>" + "".join(f"<tag>t{i}</tag>" for i in range(tags)) + "</tags>"
    inner += "<variables>" + "".join(
        f"<variable><name>v{i}</name><value>x</value></variable>" for i in range(variables)
    ) + "</variables>"
    return f"<{root}>{inner}</{root}>"


def post(client, kind: str, body: str, as_json: bool = False):
    content_type = "application/json" if as_json else "application/xml"
    return client.post(f"/ccp/rest/{kind}/feed/{100 if kind == 'task' else 200}", body, content_type=content_type)


@pytest.mark.django_db
class LimitTests:
    @pytest.mark.parametrize("as_json", [False, True], ids=["xml", "json"])
    @pytest.mark.parametrize(("kind", "field", "at_limit", "over"), EDGES, ids=[f"{e[0]}-{e[1]}" for e in EDGES])
    def test_it_takes_a_field_at_its_limit_and_refuses_one_over(self, client, feeds, kind, field, at_limit, over,
                                                                 as_json):
        assert post(client, kind, body_for(kind, {field: at_limit}, as_json=as_json), as_json).status_code == 201
        response = post(client, kind, body_for(kind, {field: over}, as_json=as_json), as_json)
        assert response.status_code == 400
        errors = response.json()["apiErrors"] if as_json else None
        if as_json:
            assert [(e["errorType"], e["errorData"]) for e in errors] == [("invalidInput", field)]
            assert str(len(over) - 1) in errors[0]["errorMessage"]
        else:
            assert xml_errors(response) == [("invalidInput", field)]

    @pytest.mark.parametrize("kind", ["task", "callback"])
    @pytest.mark.parametrize("as_json", [False, True], ids=["xml", "json"])
    def test_it_takes_20_tags_and_refuses_21(self, client, feeds, kind, as_json):
        assert post(client, kind, body_for(kind, {}, tags=20, as_json=as_json), as_json).status_code == 201
        response = post(client, kind, body_for(kind, {}, tags=21, as_json=as_json), as_json)
        assert response.status_code == 400
        assert b"tags" in response.content

    @pytest.mark.parametrize("kind", ["task", "callback"])
    @pytest.mark.parametrize("as_json", [False, True], ids=["xml", "json"])
    def test_it_takes_100_variables_and_refuses_101(self, client, feeds, kind, as_json):
        assert post(client, kind, body_for(kind, {}, variables=100, as_json=as_json), as_json).status_code == 201
        response = post(client, kind, body_for(kind, {}, variables=101, as_json=as_json), as_json)
        assert response.status_code == 400
        assert b"variables" in response.content

    def test_it_checks_limits_on_a_query_string_too(self, client, feeds):
        assert client.get(f"/ccp/task/feed/100?name={'n' * 100}&title=t&scriptSelector=s").status_code == 201
        response = client.get(f"/ccp/task/feed/100?name={'n' * 101}&title=t&scriptSelector=s")
        assert xml_errors(response) == [("invalidInput", "name")]

    def test_it_refuses_a_query_string_with_101_variables(self, client, feeds):
        variables = "&".join(f"variable_v{i}=x" for i in range(101))
        response = client.get(f"/ccp/rest/task/feed/100?name=n&title=t&scriptSelector=s&{variables}")
        assert xml_errors(response) == [("invalidInput", "variables")]

    @pytest.mark.parametrize("name", ["Ada\nLovelace", "Ada\rLovelace", "Ada\u2028Lovelace"])
    def test_it_refuses_a_name_with_a_line_break(self, client, feeds, name):
        response = post(client, "task", json.dumps(minimal_task(name=name)), as_json=True)
        assert response.status_code == 400
        assert "line breaks" in response.json()["apiErrors"][0]["errorMessage"]

    def test_it_names_every_breach(self, client, feeds):
        response = post(client, "task", task_xml(name="n" * 101, scriptSelector="s" * 33))
        assert sorted(xml_errors(response)) == [("invalidInput", f) for f in ("name", "scriptSelector", "title")]

    @pytest.mark.parametrize("field", ["name", "title", "scriptSelector"])
    def test_it_requires_the_task_fields(self, client, feeds, field):
        fields = minimal_task()
        del fields[field]
        assert xml_errors(post(client, "task", task_xml(**fields))) == [("invalidInput", field)]

    @pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False), ("TRUE", True)])
    def test_it_reads_requeue_on_recovery(self, client, feeds, value, expected):
        assert post(client, "task", task_xml(**minimal_task(requeueOnRecovery=value))).status_code == 201
        assert Contact.objects.get().requeue_on_recovery is expected

    @pytest.mark.parametrize("value", ["yes", "1", "on"])
    def test_it_refuses_a_requeue_on_recovery_that_is_not_a_boolean(self, client, feeds, value):
        response = post(client, "task", task_xml(**minimal_task(requeueOnRecovery=value)))
        assert xml_errors(response) == [("invalidInput", "requeueOnRecovery")]

    def test_it_refuses_a_variable_without_a_name(self, client, feeds):
        body = task_xml(**minimal_task(), variables="<variable><value>x</value></variable>")
        assert xml_errors(post(client, "task", body)) == [("invalidInput", "variables")]

    def test_it_passes_call_variables_longer_than_the_cce_takes(self, client, feeds):
        body = task_xml(**minimal_task(), variables=f"<variable><name>cv_1</name><value>{'x' * 41}</value></variable>")
        assert post(client, "task", body).status_code == 201

    @pytest.mark.parametrize("value", ["a\u0000b", "\ud800"])
    def test_it_refuses_characters_xml_cannot_carry(self, client, feeds, value):
        body = json.dumps(minimal_task(title=value))
        assert post(client, "task", body, as_json=True).status_code == 400


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE Task [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Task><name>Ada</name><title>&lol9;</title><scriptSelector>Sales</scriptSelector></Task>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE Task [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Task><name>&xxe;</name><title>t</title><scriptSelector>Sales</scriptSelector></Task>"""
PLAIN_DTD = """<?xml version="1.0"?>
<!DOCTYPE Task SYSTEM "http://example.com/task.dtd">
<Task><name>Ada</name><title>t</title><scriptSelector>Sales</scriptSelector></Task>"""
MB = 1024 * 1024


@pytest.mark.django_db
class BodySafetyTests:
    @pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, PLAIN_DTD], ids=["laughs", "xxe", "dtd"])
    def test_it_refuses_dtds_and_entities_without_expanding_them(self, client, feeds, body):
        response = create(client, body=body)
        assert response.status_code == 400
        assert xml_errors(response) == [("invalidInput", "body")]
        assert b"lollol" not in response.content and b"root:" not in response.content
        assert not Contact.objects.exists()

    @pytest.mark.parametrize("body", [b"<Task><name>\xff\xfe</name></Task>", b"\xc3\x28", b'{"name": "\xe9"}'])
    def test_it_refuses_malformed_utf8(self, client, feeds, body):
        response = client.post("/ccp/rest/task/feed/100", body, content_type="application/xml")
        assert response.status_code == 400
        assert b"UTF-8" in response.content

    @pytest.mark.parametrize("body", ["", "<Task>", "not xml", "<Task><name>a</name></Task><Task/>"])
    def test_it_refuses_a_body_that_is_not_xml(self, client, feeds, body):
        assert xml_errors(create(client, body=body)) == [("invalidInput", "body")]

    @pytest.mark.parametrize("body", ["[]", "{", "\"name\"", "null", "[" * 100_000 + "]" * 100_000])
    def test_it_refuses_a_body_that_is_not_a_json_object(self, client, feeds, body):
        response = client.post("/ccp/rest/task/feed/100", body, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["apiErrors"][0]["errorData"] == "body"

    def test_it_answers_413_to_a_2_mb_body(self, client, feeds):
        response = create(client, body="<Task>" + "x" * 2 * MB + "</Task>")
        assert response.status_code == 413
        assert xml_errors(response) == [("requestTooLarge", "body")]

    def test_it_takes_a_body_of_exactly_1_mb(self, client, feeds):
        padding = MB - len(TASK_XML.encode()) - len("<!---->")
        response = create(client, body=TASK_XML + "<!--" + "p" * padding + "-->")
        assert response.status_code == 201

    def test_it_answers_413_to_a_body_longer_than_its_content_length_says(self, feeds):
        # A chunked upload under ASGI has no Content-Length; the size that arrived decides.
        scope = {"type": "http", "method": "POST", "path": "/ccp/rest/task/feed/100", "query_string": b"",
                 "headers": [(b"host", b"testserver"), (b"content-type", b"application/xml")]}
        request = ASGIRequest(scope, io.BytesIO(b"<Task>" + b"x" * 2 * MB + b"</Task>"))
        response = api.create_contact(request, feed_id="100", kind="task", family="rest")
        assert response.status_code == 413

    def test_it_refuses_a_malformed_content_length(self, client, feeds):
        response = create(client, CONTENT_LENGTH="12abc")
        assert response.status_code == 400

    def test_it_answers_errors_in_json_when_asked(self, client, feeds):
        response = create(client, body="<Task>" + "x" * 2 * MB + "</Task>", HTTP_ACCEPT="application/json")
        assert response.status_code == 413
        assert response["Content-Type"] == "application/json"
        error = response.json()["apiErrors"][0]
        assert (error["errorType"], error["errorData"]) == ("requestTooLarge", "body")
        assert error["errorMessage"]


@pytest.mark.django_db
class TaskStatusTests:
    def test_it_answers_the_current_family_in_upper_case(self, client, feeds):
        contact = created(client)
        place(contact, "queued", "EXTERNALLY_ROUTED", estimated_wait=42)
        response = client.get(status_url(contact))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/xml"
        assert xml_fields(response) == {
            "root": "Task", "status": "QUEUED", "statusReason": "EXTERNALLY_ROUTED", "estimatedWaitTime": "42",
        }

    def test_it_answers_minus_one_while_the_wait_is_unknown(self, client, feeds):
        contact = created(client)
        place(contact, *QUEUED_ROUTED)
        assert xml_fields(client.get(status_url(contact)))["estimatedWaitTime"] == "-1"

    def test_it_leaves_out_the_wait_when_not_queued(self, client, feeds):
        contact = created(client)
        assert xml_fields(client.get(status_url(contact))) == {"root": "Task", "status": "UNREAD", "statusReason": ""}

    @pytest.mark.parametrize("position", [("reserved", "EXTERNALLY_ROUTED"), HANDLED])
    def test_it_names_task_and_agent_once_reserved_or_handled(self, client, feeds, position):
        contact = created(client)
        place(contact, *position, cce_task_id="5000_1187_3", agent_id="1081", estimated_wait=3)
        fields = xml_fields(client.get(status_url(contact)))
        assert (fields["taskID"], fields["agentID"]) == ("5000_1187_3", "1081")
        assert "estimatedWaitTime" not in fields

    def test_it_answers_json_when_asked(self, client, feeds):
        contact = created(client)
        place(contact, "reserved", "EXTERNALLY_ROUTED", cce_task_id="5000_1187_3", agent_id="1081")
        response = client.get(status_url(contact), HTTP_ACCEPT="application/json")
        assert response["Content-Type"] == "application/json"
        assert response.json() == {
            "status": "RESERVED", "statusReason": "EXTERNALLY_ROUTED", "taskID": "5000_1187_3", "agentID": "1081",
        }

    def test_it_answers_the_socialminer_family_as_a_social_contact(self, client, feeds):
        contact = created(client, family="sm")
        place(contact, "discarded", "NOTIFICATION_NO_SCRIPT")
        response = client.get(status_url(contact, "sm"))
        assert xml_fields(response) == {
            "root": "SocialContact", "id": contact.public_id, "refURL": f"{HOST}{status_url(contact, 'sm')}",
            "author": "Ada Lovelace", "title": "Order 4711 question", "status": "discarded",
            "statusReason": "notification_no_script",
        }

    def test_it_gives_the_wait_in_the_socialminer_family_while_queued(self, client, feeds):
        contact = created(client)
        place(contact, *QUEUED_ROUTED, estimated_wait=7)
        response = client.get(status_url(contact, "sm"), HTTP_ACCEPT="application/json")
        assert response.json()["estimatedWaitTime"] == 7
        assert response.json()["status"] == "queued"

    def test_it_ignores_a_body_and_content_type_on_get(self, client, feeds):
        contact = created(client)
        response = client.generic("GET", status_url(contact), b"\xff<!DOCTYPE x>", content_type="application/json")
        assert response.status_code == 200 and xml_fields(response)["status"] == "UNREAD"

    def test_it_records_the_poll(self, client, feeds):
        contact = created(client)
        client.get(status_url(contact))
        contact.refresh_from_db()
        assert contact.last_polled_at is not None
        assert contact.pair == ("unread", "")

    @pytest.mark.parametrize("contact_id", ["0" * 32, "nothex", "A" * 33])
    def test_it_answers_404_for_an_unknown_id(self, client, feeds, contact_id):
        response = client.get(f"/ccp/rest/task/contact/{contact_id}")
        assert response.status_code == 404
        assert xml_errors(response) == [("notFound", "id")]

    def test_it_answers_404_for_a_callback_on_the_task_path(self, client, feeds):
        contact = created(client, "callback")
        assert client.get(f"/ccp/rest/task/contact/{contact.public_id}").status_code == 404


@pytest.mark.django_db
class CallbackStatusTests:
    @pytest.mark.parametrize(("family", "root", "status"), [("rest", "Contact", "QUEUED"),
                                                             ("sm", "SocialContact", "queued")])
    def test_it_answers_both_families(self, client, feeds, family, root, status):
        contact = created(client, "callback", family=family)
        place(contact, "queued", "EXTERNALLY_HANDLED", estimated_wait=0)
        fields = xml_fields(client.get(status_url(contact, family)))
        assert (fields["root"], fields["status"], fields["estimatedWaitTime"]) == (root, status, "0")

    def test_it_never_names_a_task_or_agent_for_a_callback(self, client, feeds):
        contact = created(client, "callback")
        place(contact, *HANDLED, agent_id="1081")
        assert client.get(status_url(contact), HTTP_ACCEPT="application/json").json() == {
            "status": "HANDLED", "statusReason": "EXTERNALLY_HANDLED",
        }


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


@pytest.mark.django_db
class CancelTests:
    @pytest.mark.parametrize("family", ["rest", "sm"])
    @pytest.mark.parametrize("position", [("unread", ""), QUEUED_ROUTED, RENOTIFYING])
    def test_it_accepts_a_task_cancel_where_t6_allows_it(self, client, feeds, family, position):
        contact = created(client)
        place(contact, *position)
        response = client.delete(status_url(contact, family))
        assert response.status_code == 200
        contact.refresh_from_db()
        assert contact.pair == TASK_CANCELLING
        assert contact.transitions.last().source == "api" and contact.transitions.last().rule == "T6"

    @pytest.mark.parametrize("family", ["rest", "sm"])
    @pytest.mark.parametrize("position", [("unread", ""), ("queued", "EXTERNALLY_HANDLED")])
    def test_it_accepts_a_callback_cancel_where_c5_allows_it(self, client, feeds, family, position):
        contact = created(client, "callback")
        place(contact, *position)
        assert client.delete(status_url(contact, family)).status_code == 200
        contact.refresh_from_db()
        assert contact.pair == CB_CANCELLING

    @pytest.mark.parametrize(("kind", "position"), [
        ("task", TASK_CANCELLING), ("task", ("reserved", "EXTERNALLY_ROUTED")), ("task", HANDLED),
        ("task", ("discarded", "NOTIFICATION_NO_SCRIPT")), ("callback", CB_CANCELLING), ("callback", HANDLED),
        ("callback", ("discarded", "NOTIFICATION_INVALID_MRD_ID")),
    ])
    def test_it_refuses_a_cancel_anywhere_else_with_400(self, client, feeds, kind, position):
        contact = created(client, kind)
        place(contact, *position)
        response = client.delete(status_url(contact), HTTP_ACCEPT="application/json")
        assert response.status_code == 400
        assert response.json()["apiErrors"][0]["errorType"] == "invalidState"
        contact.refresh_from_db()
        assert contact.pair == position

    def test_it_refuses_a_second_cancel_while_the_first_is_in_flight(self, client, feeds):
        contact = created(client)
        assert client.delete(status_url(contact)).status_code == 200
        assert client.delete(status_url(contact)).status_code == 400

    def test_it_answers_as_usual_while_the_cancel_is_in_flight(self, client, feeds):
        contact = created(client)
        client.delete(status_url(contact))
        fields = xml_fields(client.get(status_url(contact)))
        assert (fields["status"], fields["statusReason"]) == ("QUEUED", TASK_CANCELLING[1])

    @pytest.mark.parametrize("kind", ["task", "callback"])
    def test_it_answers_404_once_an_api_cancel_succeeded(self, client, feeds, kind):
        contact = created(client, kind)
        client.delete(status_url(contact))
        finish_cancel(contact)
        for family in FAMILIES:
            assert client.get(status_url(contact, family)).status_code == 404
        assert client.delete(status_url(contact)).status_code == 404

    def test_it_keeps_answering_when_routing_won_the_race(self, client, feeds):
        contact = created(client)
        client.delete(status_url(contact))
        finish_cancel(contact, won=False)
        fields = xml_fields(client.get(status_url(contact)))
        assert (fields["status"], fields["statusReason"]) == ("RESERVED", "EXTERNALLY_ROUTED")

    @pytest.mark.parametrize("source", ["dashboard", "admin"])
    def test_it_keeps_answering_after_a_cancel_made_elsewhere(self, client, feeds, source):
        contact = created(client)
        lifecycle.transition(contact, *TASK_CANCELLING, source=source)
        finish_cancel(contact)
        fields = xml_fields(client.get(status_url(contact)))
        assert (fields["status"], fields["statusReason"]) == ("DISCARDED", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED")

    def test_it_answers_404_for_an_unknown_contact(self, client, feeds):
        assert client.delete("/ccp/rest/task/contact/" + "F" * 32).status_code == 404


@pytest.mark.django_db
class ExpiryTests:
    def test_it_answers_404_once_an_unfinished_contact_went_unpolled_too_long(self, client, feeds):
        contact = created(client)
        Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - timedelta(seconds=301))
        assert client.get(status_url(contact)).status_code == 404
        assert client.get(status_url(contact, "sm")).status_code == 404

    def test_it_measures_from_the_last_poll(self, client, feeds):
        contact = created(client)
        long_ago = timezone.now() - timedelta(hours=1)
        Contact.objects.filter(pk=contact.pk).update(created_at=long_ago, last_polled_at=timezone.now())
        assert client.get(status_url(contact)).status_code == 200
        Contact.objects.filter(pk=contact.pk).update(last_polled_at=long_ago)
        assert client.get(status_url(contact)).status_code == 404

    @pytest.mark.parametrize("position", [HANDLED, ("discarded", "NOTIFICATION_NO_SCRIPT")])
    def test_it_never_expires_a_finished_contact(self, client, feeds, position):
        contact = created(client)
        place(contact, *position, created_at=timezone.now() - timedelta(hours=1))
        assert client.get(status_url(contact)).status_code == 200

    @override_settings(CCP_STATUS_EXPIRY_SECONDS=0)
    def test_it_never_expires_when_the_setting_is_zero(self, client, feeds):
        contact = created(client)
        Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - timedelta(days=1))
        assert client.get(status_url(contact)).status_code == 200

    @override_settings(CCP_STATUS_EXPIRY_SECONDS=10)
    def test_it_reads_the_setting(self, client, feeds):
        contact = created(client)
        Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - timedelta(seconds=11))
        assert client.get(status_url(contact)).status_code == 404


RENOTIFY_XML = (
    "<Task><scriptSelector>Support</scriptSelector><reNotifyReason>ROUTE_SERVICE_RECOVERY</reNotifyReason></Task>"
)
RENOTIFY_PATHS = ["/ccp/rest/task/{}/renotify", "/ccp-webapp/ccp/task/{}/renotify"]


def renotify(client, contact: Contact, body: str = RENOTIFY_XML, path: str = RENOTIFY_PATHS[0], **extra):
    return client.put(path.format(contact.public_id), body, content_type="application/xml", **extra)


@pytest.mark.django_db
class RenotifyTests:
    @pytest.mark.parametrize("path", RENOTIFY_PATHS)
    def test_it_renotifies_a_discarded_task_with_a_new_script_selector(self, client, feeds, path):
        contact = created(client)
        place(contact, "discarded", "NOTIFICATION_INVALID_SCRIPT_SELECTOR")
        response = renotify(client, contact, path=path)
        assert response.status_code == 200
        contact.refresh_from_db()
        assert (contact.pair, contact.script_selector) == (RENOTIFYING, "Support")
        row = contact.transitions.last()
        assert (row.rule, row.source, row.comment) == ("T9", "api", "ROUTE_SERVICE_RECOVERY")

    def test_it_keeps_the_script_selector_when_none_is_sent(self, client, feeds):
        contact = created(client)
        place(contact, *QUEUED_ROUTED)
        assert renotify(client, contact, "<Task><reNotifyReason>again</reNotifyReason></Task>").status_code == 200
        contact.refresh_from_db()
        assert (contact.pair, contact.script_selector) == (RENOTIFYING, "Sales")

    def test_it_takes_json_and_an_empty_body(self, client, feeds):
        contact = created(client)
        place(contact, "discarded", "NOTIFICATION_NO_SCRIPT")
        response = client.put(f"/ccp/rest/task/{contact.public_id}/renotify", {"scriptSelector": "Support"},
                              content_type="application/json")
        assert response.status_code == 200
        other = created(client)
        place(other, *QUEUED_ROUTED)
        assert client.put(f"/ccp/rest/task/{other.public_id}/renotify").status_code == 200

    @pytest.mark.parametrize("position", [
        RENOTIFYING, ("unread", ""), ("reserved", "EXTERNALLY_ROUTED"), HANDLED, TASK_CANCELLING,
        ("discarded", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED"),
    ])
    def test_it_answers_412_where_t9_does_not_apply(self, client, feeds, position):
        contact = created(client)
        place(contact, *position)
        response = renotify(client, contact, HTTP_ACCEPT="application/json")
        assert response.status_code == 412
        assert response.json()["apiErrors"][0]["errorType"] == "invalidState"
        contact.refresh_from_db()
        assert (contact.pair, contact.script_selector) == (position, "Sales")

    def test_it_refuses_a_script_selector_over_32_characters(self, client, feeds):
        contact = created(client)
        place(contact, *QUEUED_ROUTED)
        response = renotify(client, contact, f"<Task><scriptSelector>{'s' * 33}</scriptSelector></Task>")
        assert xml_errors(response) == [("invalidInput", "scriptSelector")]

    def test_it_refuses_a_dtd(self, client, feeds):
        contact = created(client)
        place(contact, *QUEUED_ROUTED)
        assert renotify(client, contact, PLAIN_DTD).status_code == 400

    def test_it_is_for_tasks_only(self, client, feeds):
        contact = created(client, "callback")
        place(contact, "discarded", "NOTIFICATION_NO_SCRIPT")
        assert renotify(client, contact).status_code == 404

    def test_it_answers_405_to_other_methods(self, client, feeds):
        assert client.get(f"/ccp/rest/task/{'A' * 32}/renotify").status_code == 405


@pytest.mark.django_db
class SocialContactTests:
    @pytest.mark.parametrize("path", ["/ccp/rest/socialcontact/", "/ccp-webapp/ccp/socialcontact/"])
    def test_it_answers_with_its_own_url_as_ref_url(self, client, feeds, path):
        contact = created(client, "callback")
        fields = xml_fields(client.get(path + contact.public_id))
        assert fields["root"] == "SocialContact"
        assert fields["refURL"] == f"{HOST}{path}{contact.public_id}"
        assert (fields["author"], fields["status"], fields["statusReason"]) == ("Grace Hopper", "unread", "")

    def test_it_answers_after_an_api_cancel_succeeded(self, client, feeds):
        contact = created(client)
        client.delete(status_url(contact))
        finish_cancel(contact)
        response = client.get(f"/ccp/rest/socialcontact/{contact.public_id}", HTTP_ACCEPT="application/json")
        assert response.status_code == 200
        assert response.json()["statusReason"] == "notification_cce_task_cancel_succeeded"

    def test_it_answers_after_expiry_without_counting_as_a_poll(self, client, feeds):
        contact = created(client)
        Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - timedelta(hours=1))
        assert client.get(f"/ccp/rest/socialcontact/{contact.public_id}").status_code == 200
        assert Contact.objects.get(pk=contact.pk).last_polled_at is None

    def test_it_answers_404_for_an_unknown_id(self, client, feeds):
        assert client.get("/ccp/rest/socialcontact/" + "0" * 32).status_code == 404


@pytest.mark.django_db
class TokenTests:
    TOKEN = "s3cret-token"

    @pytest.fixture
    def protected(self, feeds) -> Feed:
        Feed.objects.filter(pk=100).update(api_token=self.TOKEN)
        return Feed.objects.get(pk=100)

    def auth(self, token: str) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    @pytest.mark.parametrize("headers", [{}, {"HTTP_AUTHORIZATION": "Bearer wrong"},
                                         {"HTTP_AUTHORIZATION": "Basic czNjcmV0LXRva2Vu"},
                                         {"HTTP_AUTHORIZATION": "Bearer"}])
    def test_it_refuses_create_without_the_right_token(self, client, protected, headers):
        response = create(client, **headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert xml_errors(response) == [("unauthorized", "Authorization")]
        assert not Contact.objects.exists()

    def test_it_refuses_a_query_string_create_without_the_token(self, client, protected):
        assert client.get("/ccp/task/feed/100?name=a&title=b&scriptSelector=c").status_code == 401

    def test_it_creates_polls_and_cancels_with_the_right_token(self, client, protected):
        response = create(client, **self.auth(self.TOKEN))
        assert response.status_code == 201
        url = response["Location"]
        assert client.get(url, **self.auth(self.TOKEN)).status_code == 200
        assert client.delete(url, **self.auth(self.TOKEN)).status_code == 200

    @pytest.mark.parametrize("token", [None, "wrong"])
    def test_it_guards_poll_cancel_and_renotify(self, client, protected, token):
        contact = created(client, **self.auth(self.TOKEN))
        headers = self.auth(token) if token else {}
        assert client.get(status_url(contact), **headers).status_code == 401
        assert client.get(status_url(contact, "sm"), **headers).status_code == 401
        assert client.delete(status_url(contact), **headers).status_code == 401
        assert renotify(client, contact, **headers).status_code == 401
        contact.refresh_from_db()
        assert contact.pair == ("unread", "")

    def test_it_answers_401_in_json_when_asked(self, client, protected):
        response = create(client, HTTP_ACCEPT="application/json")
        assert response.json()["apiErrors"][0]["errorType"] == "unauthorized"

    def test_it_leaves_the_social_contact_readable_without_the_token(self, client, protected):
        contact = created(client, **self.auth(self.TOKEN))
        assert client.get(f"/ccp/rest/socialcontact/{contact.public_id}").status_code == 200

    def test_it_leaves_feeds_without_a_token_open(self, client, protected):
        assert create(client, "callback", HTTP_AUTHORIZATION="Bearer anything").status_code == 201


@pytest.mark.django_db
class CorsTests:
    ORIGIN = "https://forms.example.com"

    @pytest.mark.parametrize(("path", "method"), [
        ("/ccp/rest/task/feed/100", "POST"), ("/ccp/task/contact/" + "A" * 32, "DELETE"),
        ("/ccp-webapp/ccp/task/" + "A" * 32 + "/renotify", "PUT"),
    ])
    def test_it_answers_a_preflight(self, client, feeds, path, method):
        response = client.options(path, HTTP_ORIGIN=self.ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
                                  HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, authorization, accept")
        assert response.status_code == 200
        assert response["Access-Control-Allow-Origin"] == "*"
        assert method in response["Access-Control-Allow-Methods"]
        assert "authorization" in response["Access-Control-Allow-Headers"]

    def test_it_exposes_location_to_cross_origin_scripts(self, client, feeds):
        response = create(client, HTTP_ORIGIN=self.ORIGIN)
        assert response.status_code == 201
        assert response["Access-Control-Allow-Origin"] == "*"
        assert "Location" in response["Access-Control-Expose-Headers"]

    def test_it_keeps_the_dashboard_same_origin(self, client, feeds):
        assert "Access-Control-Allow-Origin" not in client.get("/healthz", HTTP_ORIGIN=self.ORIGIN)


def provoke(client, status: int, **headers):
    """A request that the API answers with `status`."""
    if status == 400:
        return create(client, body=task_xml(name="n" * 101, title="t", scriptSelector="s"), **headers)
    if status == 401:
        Feed.objects.filter(pk=100).update(api_token="s3cret")
        return create(client, **headers)
    if status == 404:
        return client.get("/ccp/rest/task/contact/" + "0" * 32, **headers)
    if status == 412:
        contact = created(client)
        place(contact, *HANDLED)
        return renotify(client, contact, **headers)
    return create(client, body="<Task>" + "x" * 2 * MB + "</Task>", **headers)


@pytest.mark.django_db
class ErrorDocumentTests:
    @pytest.mark.parametrize("status", [400, 401, 404, 412, 413])
    def test_it_answers_an_xml_error_document(self, client, feeds, status):
        response = provoke(client, status)
        assert response.status_code == status
        assert response["Content-Type"] == "application/xml"
        [(error_type, data)] = xml_errors(response)
        assert error_type and data
        assert ElementTree.fromstring(response.content).find("ApiError/ErrorMessage").text

    @pytest.mark.parametrize("status", [400, 401, 404, 412, 413])
    def test_it_answers_a_json_error_document(self, client, feeds, status):
        response = provoke(client, status, HTTP_ACCEPT="application/json")
        assert response.status_code == status
        assert response["Content-Type"] == "application/json"
        [error] = response.json()["apiErrors"]
        assert set(error) == {"errorType", "errorData", "errorMessage"} and all(error.values())

    def test_it_answers_404_to_a_cancel_of_an_expired_contact(self, client, feeds):
        contact = created(client)
        Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - timedelta(hours=1))
        assert client.delete(status_url(contact)).status_code == 404
        assert Contact.objects.get(pk=contact.pk).pair == ("unread", "")


@pytest.mark.django_db
class TryPageTests:
    def test_it_serves_the_demo_page_without_login(self, client):
        response = client.get("/try/")
        assert response.status_code == 200
        assert b"/static/js/try.js" in b"".join(response.streaming_content)


ROOTS = {"task": "Task", "callback": "Contact"}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.django_db
class HostileInputTests:
    """No input makes the API answer 500 (the parser itself is fuzzed harder in test_ccpxml)."""

    @FUZZ
    @given(raw=st.binary(max_size=300), family=st.sampled_from(sorted(FAMILIES)), kind=st.sampled_from(sorted(ROOTS)))
    def test_it_never_fails_on_a_query_string(self, client, feeds, raw, family, kind):
        query = urllib.parse.quote_from_bytes(raw, safe=b"=&_,")
        response = client.get(f"{FAMILIES[family]}{kind}/feed/{feeds[kind].pk}?{query}", content_type="application/xml")
        assert response.status_code in {201, 400}

    @FUZZ
    @given(body=st.binary(max_size=300), content_type=st.sampled_from(["application/xml", "application/json", "x/y"]),
           accept=st.text(max_size=40).map(lambda s: s.encode("utf-8").decode("latin-1")))
    def test_it_never_fails_on_a_body(self, client, feeds, body, content_type, accept):
        response = client.post("/ccp/rest/task/feed/100", body, content_type=content_type, HTTP_ACCEPT=accept)
        assert response.status_code in {201, 400}

    @FUZZ
    @given(segment=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
    def test_it_never_fails_on_an_id(self, client, feeds, segment):
        quoted = urllib.parse.quote(segment, safe="")
        for path in (f"/ccp/rest/task/contact/{quoted}", f"/ccp/rest/socialcontact/{quoted}",
                     f"/ccp/callback/feed/{quoted}"):
            assert client.get(path).status_code in {400, 404}
        assert client.delete(f"/ccp/task/contact/{quoted}").status_code == 404
        assert client.put(f"/ccp/rest/task/{quoted}/renotify").status_code == 404

    def test_it_refuses_a_query_string_with_too_many_fields(self, client, feeds):
        query = "&".join(f"f{i}=x" for i in range(1001))
        response = client.get(f"/ccp/rest/task/feed/100?{query}")
        assert xml_errors(response) == [("invalidInput", "query")]


class ProxyTests:
    @override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), ALLOWED_HOSTS=["dash.example.com"])
    def test_it_answers_https_locations_behind_a_trusted_tls_proxy(self, db):
        Feed.objects.create(id=300, name="proxied", type=FeedType.TASK)
        response = Client().post(
            "/ccp/rest/task/feed/300",
            b"<Task><name>Ada</name><title>t</title><scriptSelector>Sales</scriptSelector></Task>",
            content_type="application/xml",
            HTTP_X_FORWARDED_PROTO="https",
            HTTP_HOST="dash.example.com",
        )
        assert response.status_code == 201
        assert response["Location"].startswith("https://dash.example.com/ccp/rest/task/contact/")
