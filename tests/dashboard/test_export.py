"""CSV export: every row once, formula cells escaped, memory bounded, also through the ASGI view."""

from __future__ import annotations

import asyncio
import csv
import io
import tracemalloc

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler

from contacts.core.models import Contact, Feed, FeedType
from contacts.dashboard import export
from tests.handlers import run_keeping_connections
from tests.workflow_support import client_for, discard, task


def make_contacts(feed: Feed, count: int, **fields) -> None:
    batch = [Contact(kind="task", feed=feed, name=f"n{i}", title="t", script_selector="Sales", **fields)
             for i in range(count)]
    Contact.objects.bulk_create(batch, batch_size=5000)


def read_all(queryset) -> bytes:
    async def collect() -> bytes:
        return b"".join([chunk async for chunk in export.csv_chunks(queryset)])

    return async_to_sync(collect)()


def peak_memory_of_export(queryset) -> int:
    """Peak bytes allocated while streaming the export, discarding each chunk as a client would."""

    async def drain() -> None:
        async for _ in export.csv_chunks(queryset):
            pass

    tracemalloc.start()
    try:
        async_to_sync(drain)()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def feed(db):
    return Feed.objects.create(id=100, name="tasks", type=FeedType.TASK)


@pytest.mark.django_db
class ExportTests:
    def test_it_writes_every_contact_once_newest_first(self, feed):
        make_contacts(feed, 4500)
        rows = list(csv.reader(io.StringIO(read_all(Contact.objects.all()).decode())))
        assert rows[0][0] == "id"
        ids = [row[0] for row in rows[1:]]
        assert len(ids) == len(set(ids)) == 4500
        expected = list(Contact.objects.order_by("-id").values_list("public_id", flat=True))
        assert ids == expected

    def test_it_exports_only_the_filtered_contacts(self, feed):
        make_contacts(feed, 10)
        make_contacts(feed, 5, state="discarded", reason="NOTIFICATION_NO_SCRIPT")
        rows = list(csv.reader(io.StringIO(read_all(Contact.objects.filter(state="discarded")).decode())))
        assert len(rows) == 6
        assert {row[4] for row in rows[1:]} == {"NOTIFICATION_NO_SCRIPT"}
        # The plain name the pages show, in a column after the stored ones.
        assert rows[0][-1] == "reason name"
        assert {row[-1] for row in rows[1:]} == {"No routing script"}

    @pytest.mark.parametrize("dangerous", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1"])
    def test_it_escapes_cells_a_spreadsheet_would_run(self, feed, dangerous):
        Contact.objects.create(kind="task", feed=feed, name=dangerous, title="ok")
        (row,) = list(csv.reader(io.StringIO(read_all(Contact.objects.all()).decode())))[1:]
        assert row[5] == "'" + dangerous
        assert row[6] == "ok"

    def test_it_leaves_numbers_alone(self):
        assert export.safe_cell(-1) == "-1"

    def test_it_keeps_memory_flat_from_ten_to_a_hundred_thousand_rows(self, feed):
        make_contacts(feed, 10_000)
        small = peak_memory_of_export(Contact.objects.all())
        make_contacts(feed, 90_000)
        large = peak_memory_of_export(Contact.objects.all())
        # Bounded by one chunk, not by the row count: ten times the rows, about the same peak.
        assert large < small + 1_000_000, (small, large)


def asgi_get(path: str, query: str, cookie: str, *, keep_body: bool = True) -> tuple[int, int, bytes]:
    """GET through Django's ASGI handler as Daphne calls it: (status, body messages, body or b"")."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", f"sessionid={cookie}".encode())],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    result = {"status": 0, "messages": 0, "body": []}

    async def call() -> None:
        requested = asyncio.Event()

        async def receive() -> dict:
            if not requested.is_set():
                requested.set()
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                result["status"] = message["status"]
            elif message.get("body"):
                result["messages"] += 1
                if keep_body:
                    result["body"].append(message["body"])

        await ASGIHandler()(scope, receive, send)

    run_keeping_connections(call)
    return result["status"], result["messages"], b"".join(result["body"])


def peak_memory(cookie: str) -> int:
    tracemalloc.start()
    try:
        status, messages, _ = asgi_get("/contacts.csv", "", cookie, keep_body=False)
        assert status == 200 and messages > 1
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.django_db
class ExportViewTests:
    @pytest.fixture
    def cookie(self, db) -> str:
        client = client_for("supervisor")
        return client.cookies["sessionid"].value

    def test_it_streams_the_filtered_list_as_csv(self, cookie):
        discard(task("A")), task("B")
        status, messages, body = asgi_get("/contacts.csv", "state=discarded", cookie)
        rows = list(csv.reader(io.StringIO(body.decode())))
        assert status == 200 and messages >= 2
        assert [row[3] for row in rows[1:]] == ["discarded"]

    def test_it_escapes_formula_cells(self, cookie):
        task(name="=HYPERLINK(\"http://evil\")")
        _, _, body = asgi_get("/contacts.csv", "", cookie)
        assert list(csv.reader(io.StringIO(body.decode())))[1][5] == "'=HYPERLINK(\"http://evil\")"

    def test_it_answers_400_for_invalid_filters(self, cookie):
        assert asgi_get("/contacts.csv", "state=bogus", cookie)[0] == 400

    def test_it_keeps_memory_flat_from_ten_to_a_hundred_thousand_rows(self, cookie):
        feed = task().feed
        Contact.objects.bulk_create([Contact(kind="task", feed=feed, name=f"n{i}") for i in range(10_000)],
                                    batch_size=5000)
        small = peak_memory(cookie)
        Contact.objects.bulk_create([Contact(kind="task", feed=feed, name=f"m{i}") for i in range(90_000)],
                                    batch_size=5000)
        large = peak_memory(cookie)
        # Ten times the rows, about the same peak: the response streams chunk by chunk under ASGI.
        assert large < small + 1_000_000, (small, large)

