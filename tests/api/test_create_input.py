"""What a create request may carry: field, tag and variable limits, required fields, and safe body handling."""

from __future__ import annotations

import io
import json
from xml.sax.saxutils import escape

import pytest
from django.core.handlers.asgi import ASGIRequest

from contacts.api import views as api
from contacts.core.models import Contact
from tests.api.support import (
    MB,
    PLAIN_DTD,
    TASK_XML,
    create,
    minimal_task,
    task_xml,
    xml_errors,
)

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

    @pytest.mark.parametrize("encoding", ["bogus", "UTF-0", "ZTF-8", "", "utf\x00-8"])
    def test_it_refuses_an_encoding_declaration_no_codec_knows_naming_it(self, client, feeds, encoding):
        response = create(client, body=f'<?xml version="1.0" encoding="{encoding}"?>' + TASK_XML)
        assert response.status_code == 400
        assert xml_errors(response) == [("invalidInput", "body")]
        assert b"unknown encoding" in response.content and b"UTF-8" in response.content
        assert not Contact.objects.exists()

    def test_it_refuses_a_utf8_body_that_declares_another_encoding_instead_of_storing_mojibake(self, client, feeds):
        body = '<?xml version="1.0" encoding="ISO-8859-1"?>' + TASK_XML.replace("Ada Lovelace", "Zoë Müller")
        response = create(client, body=body.encode("utf-8"))
        assert response.status_code == 400
        assert b"ISO-8859-1" in response.content
        assert not Contact.objects.exists()

    @pytest.mark.parametrize("declaration", ['<?xml version="1.0" encoding="UTF-8"?>',
                                             "<?xml version='1.0' encoding='utf8'?>",
                                             '<?xml version="1.0" encoding="US-ASCII"?>', '<?xml version="1.0"?>'])
    def test_it_takes_a_body_declaring_utf8_ascii_or_nothing(self, client, feeds, declaration):
        response = create(client, body=declaration + "\n" + TASK_XML)
        assert response.status_code == 201, response.content

    @pytest.mark.parametrize("name", ["Ada\u202eecilA", "Ada\u2066x\u2069", "A\x85da", "Ada\x9b31m", "A\x7fda"])
    def test_it_refuses_control_and_text_direction_characters_naming_the_field(self, client, feeds, name):
        response = create(client, body=task_xml(**minimal_task(name=escape(name))))
        assert response.status_code == 400
        assert set(xml_errors(response)) == {("invalidInput", "name")}  # NEL is a line break too: two errors
        assert not Contact.objects.exists()

    def test_it_keeps_right_to_left_text_and_accents(self, client, feeds):
        response = create(client, body=task_xml(**minimal_task(name="שלום Zoë")))
        assert response.status_code == 201
        assert Contact.objects.get().name == "שלום Zoë"

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
