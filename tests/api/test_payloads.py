"""The wire-format parser and renderer: properties over arbitrary input (hypothesis), no database."""

from __future__ import annotations

import json
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from django.http import QueryDict
from hypothesis import given, settings
from hypothesis import strategies as st

from contacts.api import documents
from contacts.api import payloads as ccpxml
from contacts.api.payloads import LIMITS, MAX_TAGS, MAX_VARIABLES, ContactPayload
from contacts.core.models import Contact

KINDS = st.sampled_from(["task", "callback"])
ROOTS = st.sampled_from(["Task", "Contact"])
CONTENT_TYPES = st.sampled_from(["application/xml", "text/xml", "application/json", "", "text/plain"])
FIELD_NAMES = st.sampled_from(
    ["name", "title", "description", "scriptSelector", "mediaAddress", "requeueOnRecovery", "tags", "variable_cv_1",
     "variable_", "variable_user_user.x", "other"]
)
# Text a client can put in an XML document (expat refuses the rest before we see it).
XML_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff")
                   .filter(lambda c: c in "\t\n\r" or c >= " "), max_size=120)


def assert_well_formed_result(payload: ContactPayload | None, errors: list[ccpxml.ApiError], kind: str) -> None:
    """Either a payload inside every limit of §6, or at least one error naming a field; never both."""
    assert (payload is None) == bool(errors)
    if payload is None:
        assert all(error.type and error.data and error.message for error in errors)
        return
    for limit in LIMITS[kind]:
        value = getattr(payload, limit.model)
        assert len(value) <= limit.max_chars
        assert value or not limit.required
    assert len(payload.tags) <= MAX_TAGS and len(payload.variables) <= MAX_VARIABLES
    assert all(variable["name"] for variable in payload.variables)


class ParseBodyTests:
    @settings(max_examples=300, deadline=None)
    @given(kind=KINDS, body=st.binary(max_size=400), content_type=CONTENT_TYPES)
    def test_it_never_raises_on_arbitrary_bytes(self, kind, body, content_type):
        assert_well_formed_result(*ccpxml.parse_body(kind, body, content_type), kind)

    @settings(max_examples=300, deadline=None)
    @given(kind=KINDS, fields=st.dictionaries(FIELD_NAMES, XML_TEXT, max_size=8), root=ROOTS)
    def test_it_never_raises_on_xml_documents(self, kind, fields, root):
        inner = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items() if name.isalpha())
        body = f"<{root}>{inner}</{root}>".encode()
        assert_well_formed_result(*ccpxml.parse_body(kind, body, "application/xml"), kind)

    @settings(max_examples=300, deadline=None)
    @given(kind=KINDS, document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=50),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(FIELD_NAMES | st.text(max_size=5), inner,
                                                                    max_size=4),
        max_leaves=20,
    ))
    def test_it_never_raises_on_json_documents(self, kind, document):
        body = json.dumps(document).encode()
        assert_well_formed_result(*ccpxml.parse_body(kind, body, "application/json"), kind)

    @settings(max_examples=100, deadline=None)
    @given(body=st.binary(max_size=200), content_type=CONTENT_TYPES)
    def test_it_never_raises_on_a_renotify_body(self, body, content_type):
        payload, errors = ccpxml.parse_renotify(body, content_type)
        assert (payload is None) == bool(errors)


class ParseQueryTests:
    @settings(max_examples=300, deadline=None)
    @given(kind=KINDS, raw=st.binary(max_size=300))
    def test_it_never_raises_on_an_arbitrary_query_string(self, kind, raw):
        query = QueryDict(raw.decode("latin-1"))
        assert_well_formed_result(*ccpxml.parse_query(kind, query), kind)

    @settings(max_examples=300, deadline=None)
    @given(kind=KINDS, fields=st.lists(st.tuples(FIELD_NAMES, st.text(max_size=60)), max_size=10))
    def test_it_never_raises_on_form_fields(self, kind, fields):
        query = QueryDict(mutable=True)
        for key, value in fields:
            query.appendlist(key, value)
        assert_well_formed_result(*ccpxml.parse_query(kind, query), kind)

    def test_it_ignores_empty_values(self):
        query = QueryDict("name=Ada&title=&scriptSelector=S&title=T&variable_cv_1=&variable_cv_2=x&tags=,a,")
        payload, errors = ccpxml.parse_query("task", query)
        assert errors == []
        assert (payload.name, payload.title, payload.tags) == ("Ada", "T", ["a"])
        assert payload.variables == [{"name": "cv_2", "value": "x"}]


class RenderTests:
    @settings(max_examples=200, deadline=None)
    @given(name=st.text(max_size=120), title=st.text(max_size=120), state=st.sampled_from(["unread", "queued"]))
    def test_it_renders_well_formed_xml_for_any_accepted_value(self, name, title, state):
        query = QueryDict(mutable=True)
        query.update({"mediaAddress": "5", "name": name, "title": title})
        payload, errors = ccpxml.parse_query("callback", query)
        if errors:
            return
        contact = Contact(kind="callback", state=state, name=payload.name, title=payload.title, public_id="A" * 32)
        body, content_type = documents.render(documents.social_contact_document(contact, "http://h/x"), as_json=False)
        root = ElementTree.fromstring(body)
        assert content_type == "application/xml"
        # XML parsers turn a carriage return into a line feed; every other character comes back as sent.
        sent = [value.replace("\r\n", "\n").replace("\r", "\n") for value in (payload.name, payload.title)]
        assert [root.findtext("author") or "", root.findtext("title") or ""] == sent

    def test_it_renders_several_errors(self):
        errors = [ccpxml.ApiError("invalidInput", "name", "too long"), ccpxml.ApiError("invalidInput", "title", "x")]
        body, _ = documents.render_errors(errors, as_json=False)
        root = ElementTree.fromstring(body)
        assert [item.findtext("ErrorData") for item in root.iter("ApiError")] == ["name", "title"]
