"""The dashboard's reads at growing table sizes: grow the history, time each read, explain its plans.

`run(sizes, progress=...)` grows the contacts table to each size in turn (`history.grow_to`) on the
default database, then GETs what a supervisor's screens read through the whole Django stack, logged
in as the demo supervisor, and returns JSON-ready figures:

    database, sizes   the vendor; the sizes, ascending
    fill              {size: {seconds, analyze_seconds, contacts, transitions, today, in_play, bytes (PostgreSQL:
                      on disk, the database's and each growing table's with its indexes)}}
    reads             {read: {size: {ms (median of `repeat` GETs after a warm-up), min_ms, queries, sql_ms, status}}}
    ratios            {read: ms at the largest size / ms at the smallest}
    export            {size: {status, rows, peak_bytes (tracemalloc), seconds}}; export_peak_bytes {size: bytes}
    explained         PostgreSQL: {read: {size: {buffers, ms}}}, summed over the EXPLAIN (ANALYZE, BUFFERS) of
                      every query the read makes on a growing table
    plans, seq_scans  PostgreSQL, largest size: {read: [SQL + EXPLAIN (ANALYZE, BUFFERS), ...]} of those queries,
                      and {read: [growing tables it scans sequentially]}
"""

from __future__ import annotations

import ipaddress
import re
import statistics
import time
import tracemalloc
from collections.abc import Callable

from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Max
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from contacts.core.formats import midnight
from contacts.core.lifecycle import (
    Reason,
    State,
)
from contacts.core.models import Contact, Transition
from contacts.figures.models import MoveTally

from .. import seed
from .history import GROWING_TABLES, grow_to

REPEAT = 7  # timed GETs per read; the median is reported
# The test client's address, allowed to scrape /metrics during the reads.
SCRAPER_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]


# --- measuring ----------------------------------------------------------------------------------------------


def read_urls() -> dict[str, str]:
    """The reads a supervisor's screens make, by name: what the dashboard GETs."""
    newest = Transition.objects.aggregate(last=Max("id"))["last"] or 0
    discard = Contact.objects.filter(state=State.DISCARDED, reason=Reason.NO_SCRIPT).order_by("-created_at", "-id")
    contact = discard.first() or Contact.objects.order_by("-created_at", "-id").first()
    return {
        "home": "/",
        "overview": "/overview",
        "list": "/contacts/",
        "list_reason": f"/contacts/?state={State.DISCARDED}&reason={Reason.NO_SCRIPT}",
        "search": "/contacts/?q=Order+4711",
        "detail": f"/contacts/{contact.public_id}",
        "events": f"/events?after={max(0, newest - 200)}",
        # A Prometheus scrape (contacts.metrics): served to the benchmark's client by SCRAPER_NETWORKS.
        "metrics": "/metrics",
    }


def measure(client: Client, url: str, repeat: int = REPEAT) -> tuple[dict, list[str]]:
    """One read: the median ms of `repeat` GETs after a warm-up; the queries of one more GET, their SQL and time."""
    statuses = [client.get(url).status_code]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        statuses.append(client.get(url).status_code)
        times.append((time.perf_counter() - started) * 1000)
    spent = []

    def timed(execute, sql, params, many, context):
        # The query log keeps whole milliseconds only; most of these queries take less.
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent.append(time.perf_counter() - started)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timed):
        statuses.append(client.get(url).status_code)
    # Read them now: the next request's start clears the log the context reads from.
    sqls = [query["sql"] for query in captured.captured_queries]
    figure = {
        "ms": round(statistics.median(times), 2),
        "min_ms": round(min(times), 2),  # on a shared machine the least disturbed run
        "queries": len(sqls),
        "sql_ms": round(sum(spent) * 1000, 2),
        "status": next((status for status in statuses if status != 200), 200),
    }
    return figure, sqls


# Explained besides the growing tables: the figures' tallies (they grow with periods, not with contacts).
EXPLAINED_TABLES = (*GROWING_TABLES, MoveTally._meta.db_table)


def explain(sqls: list[str]) -> list[str]:
    """`EXPLAIN (ANALYZE, BUFFERS)` of each distinct SELECT on a growing table or the tallies, the SQL on the plan's
    first line."""
    plans = []
    with connection.cursor() as cursor:
        for sql in dict.fromkeys(sqls):
            if not sql.lstrip().upper().startswith("SELECT") or not any(f'"{t}"' in sql for t in EXPLAINED_TABLES):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plans.append("\n".join([sql, *(row[0] for row in cursor.fetchall())]))
    return plans


def stored_bytes() -> dict[str, int]:
    """PostgreSQL: the bytes on disk of each growing table and of the tallies, with their indexes and TOAST, and
    of the whole database ("database"), for the operating guide's size per million contacts."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        sizes = {"database": cursor.fetchone()[0]}
        for table in EXPLAINED_TABLES:
            cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [table])
            sizes[table] = cursor.fetchone()[0]
    return sizes


def sequential_scans(plans: list[str]) -> list[str]:
    """The growing tables the plans read whole."""
    scanned = {table for plan in plans for table in re.findall(r"Seq Scan on (\w+)", plan)}
    return sorted(scanned & set(GROWING_TABLES))


def plan_totals(plans: list[str]) -> dict:
    """What the plans cost the server: shared buffers touched (hit or read) and execution ms, summed.

    Buffers count the pages a read touches whatever else the machine runs: its most exact scaling figure.
    """
    buffers, ms = 0, 0.0
    for plan in plans:
        top = plan.split("\nPlanning:")[0]  # the first node's Buffers line covers the whole tree
        found = re.search(r"Buffers: shared((?: \w+=\d+)+)", top)
        if found:
            counts = dict(part.split("=") for part in found.group(1).split())
            buffers += int(counts.get("hit", 0)) + int(counts.get("read", 0))
        ms += float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1))
    return {"buffers": buffers, "ms": round(ms, 2)}


def export_figures(user) -> dict:
    """The whole CSV export, streamed as Daphne streams it: status, data rows, peak bytes traced, seconds."""

    async def drain() -> dict:
        client = AsyncClient()
        await client.aforce_login(user)
        started = time.perf_counter()
        tracemalloc.start()
        try:
            response = await client.get("/contacts.csv")
            lines = 0
            async for chunk in response.streaming_content:
                lines += chunk.count(b"\n")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return {"status": response.status_code, "rows": lines - 1, "peak_bytes": peak,
                "seconds": round(time.perf_counter() - started, 2)}

    return async_to_sync(drain)()


@override_settings(METRICS_ALLOWED_NETWORKS=SCRAPER_NETWORKS)
def run(sizes: list[int], *, progress: Callable[[str], None], repeat: int = REPEAT,
        export_up_to: int | None = None) -> dict:
    """Grow the table to each size in turn and measure every read there; JSON-ready figures.

    The CSV export is measured at the sizes up to `export_up_to` (None: all): traced by tracemalloc,
    a million contacts take minutes to export.
    """
    seed.seed_feeds()
    seed.seed_cce()
    seed.seed_users()
    supervisor = get_user_model().objects.get(username="supervisor")
    client = Client()
    client.force_login(supervisor)
    sizes = sorted(set(sizes))
    results: dict = {"database": connection.vendor, "sizes": sizes, "fill": {}, "reads": {}, "ratios": {},
                     "export": {}, "export_peak_bytes": {}, "explained": {}, "plans": {}, "seq_scans": {}}
    for size in sizes:
        progress(f"filling the table to {size:,} contacts…")
        fill = results["fill"][str(size)] = grow_to(size, progress=progress)
        if connection.vendor == "postgresql":
            fill["bytes"] = stored_bytes()
        progress(f"  {fill['seconds']} s (+ {fill['analyze_seconds']} s ANALYZE); timing the reads…")
        day = midnight(timezone.now())
        for name, url in read_urls().items():
            figure, sqls = measure(client, url, repeat)
            results["reads"].setdefault(name, {})[str(size)] = figure
            progress(f"  {name:12s} {figure['ms']:9.2f} ms  {figure['queries']:3d} queries"
                     f"  {figure['sql_ms']:8.2f} ms SQL  {figure['status']}")
            if connection.vendor == "postgresql":
                plans = explain(sqls)
                results["explained"].setdefault(name, {})[str(size)] = plan_totals(plans)
                if size == sizes[-1]:
                    results["plans"][name], results["seq_scans"][name] = plans, sequential_scans(plans)
        if midnight(timezone.now()) != day:
            # The overview counts since midnight: its figures at this size are of a day that just began.
            fill["midnight_passed"] = True
            progress("  midnight passed during the reads: the overview's figures at this size are not comparable")
        if export_up_to is None or size <= export_up_to:
            export = results["export"][str(size)] = export_figures(supervisor)
            results["export_peak_bytes"][str(size)] = export["peak_bytes"] if export["status"] == 200 else None
            progress(f"  CSV export: {export['rows']:,} rows, peak {export['peak_bytes'] / 1e6:.2f} MB traced,"
                     f" {export['seconds']} s, status {export['status']}")
    for name, by_size in results["reads"].items():
        smallest, largest = by_size[str(sizes[0])]["ms"], by_size[str(sizes[-1])]["ms"]
        results["ratios"][name] = round(largest / smallest, 2) if smallest else None
    return results
