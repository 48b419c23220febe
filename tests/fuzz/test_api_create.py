"""Creates through the CCP API from hostile XML, JSON and query strings, on both path families.

Properties: never a 5xx; a 4xx is the ApiErrors document, in the negotiated format; a refused create names only
fields at fault and stores no contact and no move; an accepted one stores exactly one contact, with what was sent
as the contract normalises it (tests.fuzz.contract), and its first move.
"""

from __future__ import annotations

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from . import json_documents, query_strings, xml_documents, xml_mutations
from .answers import API_FAMILIES, CLEAR_ACCEPTS, OTHER_ACCEPTS, Counts, check_api, check_create, headers, is_json
from .budget import fuzz
from .conftest import fresh
from .contract import Verdict, judge, refused_whole

FEEDS = {"task": 100, "callback": 200}
KINDS = st.sampled_from(sorted(FEEDS))
FAMILIES = st.sampled_from(sorted(API_FAMILIES))
ACCEPTS = st.sampled_from(tuple(list(CLEAR_ACCEPTS))) | st.sampled_from(tuple(OTHER_ACCEPTS))
XML_TYPES = ["application/xml", "text/xml", "application/xml; charset=utf-8", "APPLICATION/XML", "", "text/plain",
             "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"]
JSON_TYPES = ["application/json", "application/json; charset=utf-8", "application/vnd.ccp+json", "Application/JSON"]
HEADER_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0xFF)  # what an HTTP header line carries


def verdict_for(kind: str, sent, body_is_json: bool, content_type: str) -> Verdict:
    """A body in the other format than its Content-Type says is refused whole (over 1 MB it is a 413 first)."""
    if sent.status != 413 and body_is_json != is_json(content_type):
        sent = refused_whole("body")
    verdict = judge(kind, sent)
    event("accepted" if verdict.accepted else f"refused: {', '.join(sorted(verdict.faults))}")
    return verdict


def post(client, kind: str, family: str, body: bytes, content_type: str, accept: str | None):
    return client.post(f"{API_FAMILIES[family]}{kind}/feed/{FEEDS[kind]}", body, content_type=content_type,
                       **headers(accept))


def check(client, kind: str, family: str, verdict: Verdict, request, accept: str | None, method: str,
          content_type: str) -> None:
    with fresh():
        before = Counts.now()
        response = request()
        errors = check_api(response, accept, method, content_type)
        check_create(response, verdict, before, kind=kind, feed=FEEDS[kind], family=family, errors=errors)


@pytest.mark.django_db
class XmlCreateTests:
    @fuzz("xml_create")
    @given(case=KINDS.flatmap(lambda kind: st.tuples(st.just(kind), xml_mutations.documents(kind))),
           family=FAMILIES, accept=ACCEPTS, content_type=st.sampled_from(tuple(XML_TYPES + JSON_TYPES[:1])))
    def test_it_answers_every_xml_document_as_the_contract_says(self, world, client, case, family, accept,
                                                                 content_type):
        kind, document = case
        body = xml_documents.render(document)
        verdict = verdict_for(kind, xml_documents.read(document, kind), False, content_type)
        check(client, kind, family, verdict, lambda: post(client, kind, family, body, content_type, accept), accept,
              "POST", content_type)


@pytest.mark.django_db
class JsonCreateTests:
    @fuzz("json_create")
    @given(case=KINDS.flatmap(lambda kind: st.tuples(st.just(kind), json_documents.documents(kind))),
           family=FAMILIES, accept=ACCEPTS, content_type=st.sampled_from(tuple(JSON_TYPES + XML_TYPES[:1])))
    def test_it_answers_every_json_document_as_the_contract_says(self, world, client, case, family, accept,
                                                                  content_type):
        kind, document = case
        body = json_documents.render(document)
        verdict = verdict_for(kind, json_documents.read(document, kind), True, content_type)
        check(client, kind, family, verdict, lambda: post(client, kind, family, body, content_type, accept), accept,
              "POST", content_type)


@pytest.mark.django_db
class QueryCreateTests:
    @fuzz("query_create")
    @given(case=KINDS.flatmap(lambda kind: st.tuples(st.just(kind), query_strings.queries(kind))),
           family=FAMILIES, accept=ACCEPTS,
           content_type=st.sampled_from(("", "application/xml", "application/json", "text/html")))
    def test_it_answers_every_query_string_as_the_contract_says(self, world, client, case, family, accept,
                                                                 content_type):
        """Browser forms send a Content-Type with every GET; the API never looks at it (spec §4)."""
        kind, query = case
        verdict = judge(kind, query_strings.read(query, kind))
        event("accepted" if verdict.accepted else f"refused: {', '.join(sorted(verdict.faults))}")
        raw = query.render().encode().decode("latin-1")  # WSGI's QUERY_STRING: the bytes, one char each

        def request():
            return client.get(f"{API_FAMILIES[family]}{kind}/feed/{FEEDS[kind]}", QUERY_STRING=raw,
                              CONTENT_TYPE=content_type, **headers(accept))

        check(client, kind, family, verdict, request, accept, "GET", "")


@pytest.mark.django_db
class RawCreateTests:
    """Bytes, not documents: whatever arrives, the answer is a clean one and a refusal stores nothing."""

    @fuzz("raw_create")
    @given(kind=KINDS, family=FAMILIES, body=st.binary(max_size=400) | st.text(max_size=200).map(str.encode),
           content_type=st.sampled_from(tuple(XML_TYPES + JSON_TYPES)) | st.text(HEADER_CHARS, max_size=30),
           accept=ACCEPTS,
           query=st.binary(max_size=100).map(lambda raw: raw.decode("latin-1")))
    def test_it_never_fails_on_any_bytes(self, world, client, kind, family, body, content_type, accept, query):
        path = f"{API_FAMILIES[family]}{kind}/feed/{FEEDS[kind]}"
        with fresh():
            before = Counts.now()
            post_answer = client.post(path, body, content_type=content_type, **headers(accept))
            # The test client sends no Content-Type with an empty body.
            self.check(post_answer, before, accept, "POST", content_type if body else "")
        with fresh():
            before = Counts.now()
            get_answer = client.get(path, QUERY_STRING=query, **headers(accept))
            self.check(get_answer, before, accept, "GET", "")

    def check(self, response, before: Counts, accept, method: str, content_type: str) -> None:
        check_api(response, accept, method, content_type)
        grown = 1 if response.status_code == 201 else 0
        assert Counts.now() == Counts(before.contacts + grown, before.transitions + grown, before.audit)
