"""The dashboard under hostile filters, cursors and ids, signed in as the demo supervisor and admin.

Properties: never a 5xx; a page that only reads stores nothing; the JSON endpoints answer JSON and the export CSV;
an acknowledgement redirects only within the site; a contact the API accepted shows on its page, in the search for
its name and in the export, whatever it is called.
"""

from __future__ import annotations

import csv
import html
import io
import json
from urllib.parse import quote, urlsplit

import pytest
from django.contrib.auth import get_user_model
from hypothesis import event, given
from hypothesis import strategies as st

from contacts.alerts import feed as alert_feed
from contacts.core.lifecycle import Kind, Source
from contacts.core.models import Contact
from contacts.dashboard.export import safe_cell
from contacts.dashboard.lists import Cursor
from contacts.workflows import actions, jobs

from . import dashboard_params as params
from . import values, xml_documents
from .answers import Counts, asgi_request
from .budget import fuzz
from .conftest import fresh, place
from .contract import judge
from .test_api_contacts import IDS
from .xml_documents import Document, Element, Text

READS = {
    "events": ("/events", params.EVENTS),
    "alerts": ("/alerts/feed", params.ALERT_FEED),
    "overview": ("/overview", {"junk": params.hostile_text()}),
    "home": ("/", {"junk": params.hostile_text()}),
    "audit": ("/audit/", params.AUDIT),
    "jobs": ("/jobs/", {"junk": params.hostile_text()}),
}
JSON_PATHS = {"/events", "/alerts/feed", "/overview"}
ROLES = st.sampled_from(("supervisor", "admin"))


@pytest.fixture
def dashboard(positioned) -> dict[tuple[str, str], Contact]:
    """The positioned contacts, and what the audit page and the alerts list: a cancel and a resubmit by the
    admin, an acknowledgement, a bulk job."""
    admin = get_user_model().objects.get(username="admin")
    actions.request_cancel(place(Kind.TASK, "unread"), source=Source.DASHBOARD, user=admin, comment="=1+1 <b>")
    actions.resubmit(place(Kind.CALLBACK, "discarded"), source=Source.DASHBOARD, user=admin, comment="again")
    alert_feed.acknowledge(admin, [f"d{positioned[('task', 'discarded')].transitions.latest('id').pk}"])
    jobs.start("cancel", {"state": "unread"}, user=admin, comment="bulk")
    return positioned


def ids_of(contacts) -> st.SearchStrategy[str]:
    known = tuple(sorted(contact.public_id for contact in contacts.values()))
    return st.sampled_from(known) | st.sampled_from(known).map(str.lower) | IDS.map(lambda raw: quote(raw, safe=""))


def get(client, path: str, pairs: list[tuple[str, str]], **extra):
    return client.get(path, QUERY_STRING=params.query(pairs), **extra)


def cookie_of(client) -> list[tuple[bytes, bytes]]:
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


def csv_rows(answer) -> list[list[str]]:
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert rows[0][0] == "id"
    return rows[1:]


@pytest.mark.django_db
class ContactListTests:
    @fuzz("dashboard_list")
    @given(pairs=params.params(params.FILTERS), cursor=st.none() | st.tuples(st.sampled_from(("before", "after")),
                                                                             st.integers(0, 20)),
           page=st.sampled_from(("list", "list", "csv", "bulk/resubmit", "bulk/cancel")))
    def test_it_lists_exports_and_previews_any_filters(self, dashboard, supervisor, admin, pairs, cursor, page):
        if cursor:  # a real position in the list, as the page's own links carry it
            contacts = sorted(dashboard.values(), key=lambda contact: (contact.created_at, contact.pk))
            pairs = [*pairs, (cursor[0], str(Cursor.of(contacts[cursor[1] % len(contacts)])))]
        with fresh():
            before = Counts.now()
            if page == "csv":
                answer = asgi_request("GET", "/contacts.csv", params.query(pairs).encode("latin-1"),
                                      cookie_of(supervisor))
                # 414: the request line is over ccpdash.asgi's limit (8 KB), before Django sees it.
                assert answer.status_code in (200, 400, 414), answer.content[:2000]
                if answer.status_code == 200:
                    csv_rows(answer)
                elif answer.status_code == 400:
                    assert json.loads(answer.content)["error"] == "bad request"
            else:
                path, client = ("/contacts/", supervisor) if page == "list" else (f"/contacts/{page}", admin)
                response = get(client, path, pairs)
                assert response.status_code in ((200,) if page == "list" else (200, 404)), response.status_code
            event(f"{page} {answer.status_code if page == 'csv' else response.status_code}")
            assert Counts.now() == before


@pytest.mark.django_db
class ReadTests:
    @fuzz("dashboard_reads")
    @given(read=st.sampled_from(sorted(READS)).flatmap(lambda name: st.tuples(st.just(name),
                                                                               params.params(READS[name][1]))),
           role=ROLES, target=st.sampled_from(("read", "read", "detail", "job")), number=st.integers(0, 2**80),
           data=st.data())
    def test_it_reads_any_page_with_any_parameters(self, dashboard, supervisor, admin, read, role, target, number,
                                                   data):
        client = {"supervisor": supervisor, "admin": admin}[role]
        name, pairs = read
        path = READS[name][0]
        if target == "detail":
            path = f"/contacts/{data.draw(ids_of(dashboard))}"
        elif target == "job":
            path = f"/jobs/{number}" + data.draw(st.sampled_from(("", "/status")))
        with fresh():
            before = Counts.now()
            response = get(client, path, pairs)
            event(f"{target if target != 'read' else name} {response.status_code}")
            assert response.status_code in (200, 400, 403, 404), (path, response.status_code)
            if path in JSON_PATHS:
                assert response["Content-Type"] == "application/json"
                json.loads(response.content)
            assert Counts.now() == before


def same_site(location: str) -> bool:
    """Whether a browser following `location` stays on this site: a path, or this host (a browser drops tabs and
    newlines, reads \\ as /, and skips controls and spaces in front)."""
    cleaned = "".join(char for char in location if char not in "\t\r\n").replace("\\", "/").lstrip("".join(
        map(chr, range(0x21))))
    parts = urlsplit(cleaned)
    return (parts.scheme, parts.netloc) in {("", ""), ("http", "testserver")} and not cleaned.startswith("//")


@pytest.mark.django_db
class AdminTests:
    @fuzz("dashboard_admin")
    @given(action=st.sampled_from(("preview", "resubmit", "ack", "ack")), data=st.data(),
           accept=st.sampled_from(("application/json", "text/html", "*/*", "")))
    def test_it_previews_resubmits_and_acknowledges_anything(self, dashboard, admin, action, data, accept):
        with fresh():
            before = Counts.now()
            if action == "ack":
                pairs = data.draw(params.params(params.ACK))
                response = admin.post("/alerts/ack", params.query(pairs), HTTP_ACCEPT=accept,
                                      content_type="application/x-www-form-urlencoded")
                assert response.status_code in (200, 302, 400), response.status_code
                if response.status_code == 302:
                    assert same_site(response["Location"]), response["Location"]
            else:
                # Half of them on a contact that may be resubmitted, where the selector reaches decide().
                resubmittable = [dashboard[(kind, "discarded")].public_id for kind in ("task", "callback")]
                ids = st.sampled_from(tuple(resubmittable)) if data.draw(st.booleans()) else ids_of(dashboard)
                contact_id = data.draw(ids)
                selector = data.draw(params.RESUBMIT["script_selector"])
                pairs = [*data.draw(params.params(params.RESUBMIT)), ("script_selector", selector)]
                suffix = "/resubmit/preview" if action == "preview" else "/resubmit"
                response = get(admin, f"/contacts/{contact_id}{suffix}", pairs, HTTP_ACCEPT=accept)
                assert response.status_code in ((200, 400, 404) if action == "preview" else (200, 404))
                if action == "preview" and response.status_code == 200:
                    assert json.loads(response.content)["contact"] == contact_id
                assert Counts.now() == before
            event(f"{action} {response.status_code}")
            now = Counts.now()
            assert (now.contacts, now.transitions) == (before.contacts, before.transitions)


@pytest.mark.django_db
class DisplayTests:
    @fuzz("dashboard_display")
    @given(case=st.sampled_from(("task", "callback")).flatmap(lambda kind: st.tuples(st.just(kind),
                                                                                     values.payloads(kind))))
    def test_a_contact_the_api_accepted_shows_on_the_dashboard(self, world, client, supervisor, case):
        kind, payload = case
        root = "Task" if kind == "task" else "Contact"
        fields = tuple(Element(name, (Text(value),)) for name, value in payload.scalars.items())
        document = Document(Element(root, fields))
        stored = judge(kind, xml_documents.read(document, kind)).stored
        with fresh():
            response = client.post(f"/ccp/rest/{kind}/feed/{100 if kind == 'task' else 200}",
                                   xml_documents.render(document), content_type="application/xml")
            assert response.status_code == 201, response.content
            public_id = response["Location"].rsplit("/", 1)[1]
            page = supervisor.get(f"/contacts/{public_id}")
            assert page.status_code == 200
            for text in (stored["name"], stored["title"]):
                assert html.escape(text) in page.content.decode()
            search = [("q", stored["name"] or public_id)]
            assert public_id in get(supervisor, "/contacts/", search).content.decode()
            rows = csv_rows(asgi_request("GET", "/contacts.csv", params.query(search).encode("latin-1"),
                                         cookie_of(supervisor)))
            assert [safe_cell(stored["name"])] == [row[5] for row in rows if row[0] == public_id]
