"""Measurements behind `manage.py benchmark`: each compares two sizes side by side in one run.

Absolute times on a shared machine say little; the ratio between a small and a large data set,
measured one right after the other, says whether a page or an export scales.
"""

from __future__ import annotations

import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta

from asgiref.sync import async_to_sync
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.core import filters, lifecycle
from contacts.core.lifecycle import Reason, Source, State
from contacts.core.models import Contact, Feed, FeedType, Transition
from contacts.dashboard import export, lists, overview
from contacts.live import resync

# A plausible mix of positions for a contact table that has run for a while.
POSITIONS = [
    ((State.HANDLED, Reason.EXTERNALLY_HANDLED), 0.80),
    ((State.DISCARDED, Reason.NO_SCRIPT), 0.04),
    ((State.DISCARDED, Reason.INVALID_SCRIPT_SELECTOR), 0.04),
    ((State.DISCARDED, Reason.TASK_CANCEL_SUCCEEDED), 0.04),
    ((State.QUEUED, Reason.EXTERNALLY_ROUTED), 0.04),
    ((State.RESERVED, Reason.EXTERNALLY_ROUTED), 0.03),
    ((State.UNREAD, Reason.NONE), 0.01),
]
MRDS = [(5000, "Sales"), (5000, "Support"), (5001, "EmailDN"), (1, "CallbackDN")]


def feeds() -> tuple[Feed, Feed]:
    task, _ = Feed.objects.get_or_create(id=100, defaults={"name": "bench tasks", "type": FeedType.TASK})
    callback, _ = Feed.objects.get_or_create(id=200, defaults={"name": "bench callbacks", "type": FeedType.CALLBACK})
    return task, callback


def grow_to(total: int, seed: int = 1) -> None:
    """Add contacts (and a create transition each) until the table holds `total`, spread over 30 days.

    Contacts older than an hour are handled or discarded; the last hour's have every position.
    """
    rng = random.Random(seed + total)
    task_feed, _ = feeds()
    now = timezone.now()
    positions, weights = zip(*POSITIONS, strict=True)
    finals = [(p, w) for p, w in POSITIONS if p[0] in (State.HANDLED, State.DISCARDED)]
    final_positions, final_weights = zip(*finals, strict=True)
    missing = total - Contact.objects.count()
    while missing > 0:
        batch = min(missing, 5000)
        contacts, stamps = [], []
        for _ in range(batch):
            # As in a real contact center, only recent contacts are still in play; history is final.
            stamp = now - timedelta(seconds=rng.randrange(30 * 86400))
            recent = now - stamp < timedelta(hours=1)
            (state, reason) = rng.choices(positions if recent else final_positions,
                                          weights if recent else final_weights)[0]
            mrd, selector = rng.choice(MRDS)
            stamps.append(stamp)
            submitted = state != State.UNREAD
            contacts.append(Contact(
                kind="task", feed=task_feed, state=state, reason=reason, name=f"Bench {rng.randrange(10**6)}",
                title=f"Order {rng.randrange(10**5)}", script_selector=selector,
                cce_mrd_id=mrd if submitted else None, cce_script_selector=selector if submitted else "",
                estimated_wait=rng.randrange(0, 120) if state == State.QUEUED else None,
            ))
        created = Contact.objects.bulk_create(contacts)
        for contact, stamp in zip(created, stamps, strict=True):
            contact.created_at = stamp
        Contact.objects.bulk_update(created, ["created_at"], batch_size=2000)
        Transition.objects.bulk_create([
            Transition(contact=c, rule="T1", to_state=c.state, to_reason=c.reason, source=Source.API,
                       created_at=c.created_at)
            for c in created
        ])
        missing -= batch
    # A live table has planner statistics (autovacuum); a freshly filled one must be analysed first.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def timed(action: Callable[[], object], repeat: int = 5) -> dict:
    """Median wall time in ms over `repeat` runs, and the queries one run makes."""
    with CaptureQueriesContext(connection) as queries:
        action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return {"ms": round(statistics.median(times), 2), "queries": len(queries)}


def dashboard_reads() -> dict[str, Callable[[], object]]:
    """The reads a supervisor's screens make, by name."""
    newest = Contact.objects.order_by("-id").values_list("public_id", flat=True).first()

    def detail() -> None:
        contact = lists.contact_detail(newest)
        lists.timeline(contact)

    return {
        "overview": overview.overview,
        "list, first page": lambda: lists.contact_page(filters.filter_contacts({})),
        "list, discarded NO_SCRIPT": lambda: lists.contact_page(
            filters.filter_contacts({"state": "discarded", "reason": Reason.NO_SCRIPT})
        ),
        "list, text search": lambda: lists.contact_page(filters.filter_contacts({"q": "Order 4711"})),
        "detail + timeline": detail,
        "events after newest-200": lambda: resync.events_after(max(0, _newest_transition() - 200)),
    }


def _newest_transition() -> int:
    return Transition.objects.order_by("-id").values_list("id", flat=True).first() or 0


def export_peak_bytes() -> int:
    async def drain() -> None:
        async for _ in export.csv_chunks(Contact.objects.all()):
            pass

    tracemalloc.start()
    try:
        async_to_sync(drain)()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def transitions_per_second(count: int = 300) -> float:
    """Full task lives (create, T2, T3, T4: four moves each) through the real lifecycle, committed."""
    task_feed, _ = feeds()
    started = time.perf_counter()
    for _ in range(count):
        contact = lifecycle.create("task", task_feed, name="bench", title="t", script_selector="Sales")
        for target in (lifecycle.TASK_QUEUED, lifecycle.TASK_RESERVED, (State.HANDLED, Reason.EXTERNALLY_HANDLED)):
            lifecycle.transition(contact, *target, source=Source.CCE)
    return round(4 * count / (time.perf_counter() - started), 1)


def api_creates_per_second(count: int = 300) -> float:
    """XML creates through the whole Django stack (in process: no network, no server)."""
    feeds()
    client = Client()
    body = b"<Task><name>Ada</name><title>Bench</title><scriptSelector>Sales</scriptSelector></Task>"
    started = time.perf_counter()
    for _ in range(count):
        response = client.post("/ccp/rest/task/feed/100", body, content_type="application/xml")
        assert response.status_code == 201, response.content
    return round(count / (time.perf_counter() - started), 1)
