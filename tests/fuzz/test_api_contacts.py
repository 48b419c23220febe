"""Status, cancel, renotify and the social contact through the CCP API: hostile ids in every path segment, every
operation on contacts in every position, hostile renotify bodies.

Properties: never a 5xx; every 4xx is the ApiErrors document; the status code is the contract's for the contact's
position (spec §4); a refused request moves nothing, an accepted cancel or renotify makes exactly its one move.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from contacts.core.models import Contact, Transition

from . import json_documents, xml_documents, xml_mutations
from .answers import CLEAR_ACCEPTS, OTHER_ACCEPTS, Counts, check_api, headers, is_json
from .budget import fuzz
from .conftest import TOKEN, fresh
from .contract import RENOTIFY_FIELDS, Sent, judge_renotify, refused_whole

HEX = "0123456789ABCDEF"
HOSTILE_IDS = ["0" * 32, "A" * 32 + "\x00", "\x00", "..", ".", "%00", "%2e%2e", "A" * 5000, "\uff21" * 32,
               "\uff10" * 32, "A" * 31 + "\u2160", "-1", "1e3", "null", "' OR 1=1 --", "<script>", "A" * 32 + "/x",
               " " + "A" * 32,
               "A" * 32 + "\n", "\u202e" + "A" * 31, "a" * 32 + "%", "2147483648", "99999999999999999999", "0x64",
               "\u0661\u0660\u0660", "100 ", "+100", "100.0"]
IDS = st.one_of(
    st.text(HEX, min_size=32, max_size=32),
    st.text(HEX + "abcdefg", min_size=30, max_size=34),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
    st.sampled_from(tuple(HOSTILE_IDS)),
)
ACCEPTS = st.sampled_from(tuple(list(CLEAR_ACCEPTS))) | st.sampled_from(tuple(OTHER_ACCEPTS))
# Spec §4: where a cancel (C5/T6) and a renotify (T9) are accepted; every other position refuses them.
CANCELLABLE = {("task", "unread"), ("task", "queued"), ("task", "renotifying"), ("task", "token"),
               ("callback", "unread"), ("callback", "queued")}
RENOTIFIABLE = {("task", "discarded"), ("task", "queued")}
MOVED_TO = {"cancel": {"task": ("queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED"),
                       "callback": ("queued", "NOTIFICATION_CCE_CALLBACK_CANCEL_REQUESTED")},
            "renotify": {"task": ("queued", "TASK_RENOTIFY_REQUESTED")}}


def segment(raw: str, keep_slashes: bool) -> str:
    """`raw` as a path segment; with `keep_slashes` a '/' in it stays one (and the path has more segments)."""
    return quote(raw, safe="/" if keep_slashes else "")


def paths(contact_id: str) -> list[tuple[str, str]]:
    """Every API route with `contact_id` in its id segment: (method, path)."""
    found = [("PUT", f"/ccp/rest/task/{contact_id}/renotify"), ("PUT", f"/ccp-webapp/ccp/task/{contact_id}/renotify"),
             ("GET", f"/ccp/rest/socialcontact/{contact_id}"), ("GET", f"/ccp-webapp/ccp/socialcontact/{contact_id}")]
    for prefix in ("/ccp/rest/", "/ccp/"):
        for kind in ("task", "callback"):
            status, feed = f"{prefix}{kind}/contact/{contact_id}", f"{prefix}{kind}/feed/{contact_id}"
            found += [("GET", status), ("DELETE", status), ("GET", feed), ("POST", feed)]
    return found


@pytest.mark.django_db
class HostileIdTests:
    @fuzz("ids")
    @given(raw=IDS, keep_slashes=st.booleans(), accept=ACCEPTS,
           routes=st.lists(st.integers(0, len(paths("x")) - 1), min_size=1, max_size=4, unique=True))
    def test_it_answers_404_for_any_id_in_any_path(self, positioned, client, raw, keep_slashes, accept, routes):
        """Each id in up to four of the twenty routes that take one (all of them over a run)."""
        contact_id = segment(raw, keep_slashes)
        for method, path in [paths(contact_id)[route] for route in routes]:
            with fresh():
                before = Counts.now()
                response = client.generic(method, path, b"", content_type="application/xml", **headers(accept))
                check_api(response, accept, method)
                # An id that happens to name a feed gets the 400 of an empty create (or 401 on the token's feed).
                assert response.status_code in ({400, 401, 404} if "/feed/" in path else {404}), (method, path)
                assert Counts.now() == before


def expected_status(operation: str, path_kind: str, key: tuple[str, str] | None, authorization: str) -> int:
    """What spec §4 answers `operation` on the contact at `key` ((kind, position); None: no such contact)."""
    if key is None:
        return 404
    if operation == "social":
        return 200
    kind, position = key
    if kind != ("task" if operation == "renotify" else path_kind):
        return 404
    if position == "token" and authorization not in AUTHORIZED:
        return 401
    if position == "cancelled" and operation != "renotify":
        return 404  # cancelled through the status URL
    if operation == "cancel":
        return 200 if key in CANCELLABLE else 400
    if operation == "renotify":
        return 200 if key in RENOTIFIABLE else 412
    return 200


OPERATIONS = {"poll": ("GET", ["/ccp/rest/{kind}/contact/{id}", "/ccp/{kind}/contact/{id}"]),
              "cancel": ("DELETE", ["/ccp/rest/{kind}/contact/{id}", "/ccp/{kind}/contact/{id}"]),
              "renotify": ("PUT", ["/ccp/rest/task/{id}/renotify", "/ccp-webapp/ccp/task/{id}/renotify"]),
              "social": ("GET", ["/ccp/rest/socialcontact/{id}", "/ccp-webapp/ccp/socialcontact/{id}"])}
AUTHORIZED = {f"Bearer {TOKEN}", f"bearer  {TOKEN} "}  # the scheme is case-insensitive (RFC 7235)
AUTHORIZATIONS = [*AUTHORIZED, "", "Bearer wrong", "Bearer", "Basic czNjcmV0", "Bearer \x7f", f"Bearer {TOKEN}x"]


@pytest.fixture
def no_expiry(settings) -> None:
    """Status URLs that never expire: a long run outlasts the 5 minutes (tests/api cover the expiry). Set once for
    the test, never per input: each `settings.X =` of pytest-django stacks one more override."""
    settings.CCP_STATUS_EXPIRY_SECONDS = 0


@pytest.mark.django_db
class ContactRequestTests:
    @fuzz("contact_requests")
    @given(operation=st.sampled_from(sorted(OPERATIONS)), route=st.integers(0, 1),
           path_kind=st.sampled_from(("task", "callback")), target=st.integers(0, 30), unknown=IDS,
           case=st.sampled_from(("upper", "lower", "mixed")), slash=st.booleans(), accept=ACCEPTS,
           authorization=st.sampled_from(tuple(AUTHORIZATIONS)),
           body=st.sampled_from((b"", b"<Task>", b"\x00\xff", b"{}")))
    def test_it_answers_each_operation_as_the_contract_says(self, positioned, client, no_expiry, operation, route,
                                                            path_kind, target, unknown, case, slash, accept,
                                                            authorization, body):
        keys = sorted(positioned)
        key = keys[target] if target < len(keys) else None
        contact_id = positioned[key].public_id if key else quote(unknown, safe="")
        contact_id = {"upper": contact_id, "lower": contact_id.lower(), "mixed": contact_id[:16].lower()
                      + contact_id[16:]}[case]
        method, templates = OPERATIONS[operation]
        path = templates[route].format(kind=path_kind, id=contact_id) + ("/" if slash else "")
        wanted = expected_status(operation, path_kind, key, authorization)
        event(f"{operation} {wanted}")
        extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
        with fresh(throttles=True):
            before = Counts.now()
            pair = positioned[key].pair if key else None
            response = client.generic(method, path, body if method != "PUT" else b"", content_type="application/xml",
                                      **headers(accept), **extra)
            errors = check_api(response, accept, method)
            assert response.status_code == wanted, (response.status_code, key, errors)
            moved = MOVED_TO.get(operation, {}).get(key[0]) if key and wanted == 200 else None
            grown = 1 if moved else 0
            assert Counts.now() == Counts(before.contacts, before.transitions + grown, before.audit)
            if key:
                assert Contact.objects.get(pk=positioned[key].pk).pair == (moved or pair)


RENOTIFY_TARGETS = ["discarded", "queued", "handled", "renotifying"]
RENOTIFY_TYPES = ["application/xml", "text/xml", "application/json", "application/problem+json", "", "text/plain"]


@pytest.mark.django_db
class RenotifyBodyTests:
    @fuzz("renotify_bodies")
    @given(position=st.sampled_from(tuple(RENOTIFY_TARGETS)), route=st.integers(0, 1), accept=ACCEPTS,
           content_type=st.sampled_from(tuple(RENOTIFY_TYPES)),
           document=st.none() | xml_mutations.renotify_documents() | json_documents.renotify_documents())
    def test_it_renotifies_with_what_the_body_says_or_refuses_it(self, positioned, client, position, route, accept,
                                                                 content_type, document):
        contact = positioned[("task", position)]
        body, sent = self.read(document, content_type)
        verdict = judge_renotify(sent)
        path = OPERATIONS["renotify"][1][route].format(id=contact.public_id)
        wanted = verdict.status if verdict.faults else (200 if ("task", position) in RENOTIFIABLE else 412)
        event(f"renotify {wanted}")
        with fresh():
            before = Counts.now()
            response = client.put(path, body, content_type=content_type, **headers(accept))
            errors = check_api(response, accept, "PUT", content_type if body else "")  # none sent with no body
            assert response.status_code == wanted, (response.status_code, verdict, errors)
            assert {error.data for error in errors} <= (verdict.faults or {"status"})
            contact_now = Contact.objects.get(pk=contact.pk)
            if wanted != 200:
                assert Counts.now() == before and contact_now.pair == contact.pair
                return
            assert Counts.now().transitions == before.transitions + 1
            assert contact_now.pair == MOVED_TO["renotify"]["task"]
            assert contact_now.script_selector == (verdict.stored["script_selector"] or contact.script_selector)
            move = Transition.objects.filter(contact=contact).latest("id")
            assert (move.rule, move.source, move.comment) == ("T9", "api", verdict.stored["comment"])

    def read(self, document, content_type: str):
        """The body, and what the contract takes from it (a body in the other format is refused whole)."""
        scalars = tuple(RENOTIFY_FIELDS)
        if document is None:
            return b"", Sent()
        if isinstance(document, xml_documents.Document):
            body = xml_documents.render(document)
            sent = xml_documents.read_as(document, "Task", scalars)
            is_json_body = False
        else:
            body = json_documents.render(document)
            sent = json_documents.read(document, "task", scalars)
            is_json_body = True
        if not body.strip():
            return body, Sent()
        if sent.status != 413 and is_json(content_type) != is_json_body:
            sent = refused_whole("body")
        return body, sent
