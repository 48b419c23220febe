"""A contact center's history for the reads benchmark: 30 days of contacts, their transitions, slots and acks.

`grow_to(size)` grows the contacts table to `size` (never refilling) on the default database. The
history is a real contact center's: 30 days, TODAY_SHARE of it since midnight, every contact
older than an hour finished (handled, discarded with a CCE error code, cancelled), the last hour's
partly in play; each contact has the Transition rows of its path through the lifecycle table, each
routed one its agent slot, most older discard alerts an acknowledgement. The demo configuration
(`contacts.demo.seed`: feeds 100 and 200, its MRDs, selectors and agents) is what the rows point at.
PostgreSQL generates the rows itself (INSERT … SELECT over generate_series, from a plan of a few
dozen rows) and, for a large fill, rebuilds the indexes and foreign keys once afterwards; elsewhere
(SQLite, the tests' tiny sizes) Python generates the same rows and inserts them with executemany.
"""

from __future__ import annotations

import bisect
import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from contacts.alerts.discards import ERROR_CODES
from contacts.alerts.models import AlertAcknowledgement
from contacts.cce.models import Agent, AgentAssignment
from contacts.core.formats import midnight
from contacts.core.lifecycle import (
    CB_CANCELLING,
    CB_QUEUED,
    FINAL_STATES,
    TASK_CANCELLING,
    TASK_QUEUED,
    TASK_RENOTIFYING,
    TASK_RESERVED,
    UNREAD,
    Kind,
    Pair,
    Reason,
    Source,
    State,
    rule_for,
)
from contacts.core.models import Contact, Transition
from contacts.figures import tallies
from contacts.figures.models import MoveTally

from .. import seed

TODAY_SHARE = 0.027  # issue 15: 27,000 of 1,000,000 contacts were created since midnight
LAST_HOUR_SHARE = TODAY_SHARE / 16  # a day's traffic arrives over about 16 hours
HISTORY = timedelta(days=30)
BATCH = 20_000  # contacts generated in Python and written per transaction
BULK_FROM = 10_000  # contacts added at once from which PostgreSQL's indexes are rebuilt rather than maintained
GROWING_TABLES = tuple(m._meta.db_table for m in (Contact, Transition, AgentAssignment, AlertAcknowledgement))


HANDLED = Pair(State.HANDLED, Reason.EXTERNALLY_HANDLED)


def _discarded(reason: str) -> Pair:
    return Pair(State.DISCARDED, reason)


# Seconds (min, max) a move takes after the one before it.
SUBMIT, WAIT, HANDLE, CALL = (0.2, 2.0), (5, 600), (60, 900), (30, 1200)
ASK_CANCEL, CANCEL, ASK_RENOTIFY, THROTTLED = (10, 600), (1, 3), (300, 7200), (1, 60)
ROUTED = ((TASK_QUEUED, SUBMIT), (TASK_RESERVED, WAIT), (HANDLED, HANDLE))

# (kind, script selector, the moves after the create with their durations, share of the history, of the last hour)
PATHS: tuple[tuple[str, str, tuple, float, float], ...] = (
    (Kind.TASK, "Sales", ROUTED, 30.0, 6.0),
    (Kind.TASK, "Support", ROUTED, 28.0, 6.0),
    (Kind.TASK, "NoScript", ((_discarded(Reason.NO_SCRIPT), SUBMIT),), 2.0, 2.0),
    (Kind.TASK, "Sales-EU", ((_discarded(Reason.INVALID_SCRIPT_SELECTOR), SUBMIT),), 1.5, 1.5),
    (Kind.TASK, "EmailDN", ((_discarded(Reason.MEDIA_ROUTING_DISABLED), SUBMIT),), 1.5, 1.5),
    (Kind.TASK, "Release", ((_discarded(Reason.ROUTER_RELEASED_TASK), SUBMIT),), 1.0, 1.0),
    (Kind.TASK, "Faulty", ((_discarded(Reason.UNKNOWN_ERROR), SUBMIT),), 0.5, 0.5),
    (Kind.TASK, "Sales", ((_discarded(Reason.RATE_LIMITED), THROTTLED),), 0.3, 0.3),
    (Kind.TASK, "Support", ((_discarded(Reason.CCE_CONNECTION_FAILURE), SUBMIT),), 0.2, 0.2),
    (Kind.TASK, "Support", ((TASK_QUEUED, SUBMIT), (_discarded(Reason.CCE_CCP_FAILOVER), WAIT)), 0.2, 0.2),
    (Kind.TASK, "Sales", ((TASK_QUEUED, SUBMIT), (TASK_CANCELLING, ASK_CANCEL),
                          (_discarded(Reason.TASK_CANCEL_SUCCEEDED), CANCEL)), 3.0, 1.0),
    # Discarded for want of a script, renotified with a selector that has one, then routed.
    (Kind.TASK, "Sales", ((_discarded(Reason.NO_SCRIPT), SUBMIT), (TASK_RENOTIFYING, ASK_RENOTIFY), *ROUTED), 1.0, 0),
    (Kind.CALLBACK, "", ((CB_QUEUED, SUBMIT), (HANDLED, CALL)), 24.0, 5.0),
    (Kind.CALLBACK, "", ((CB_QUEUED, SUBMIT), (CB_CANCELLING, ASK_CANCEL),
                         (_discarded(Reason.CALLBACK_CANCEL_SUCCEEDED), CANCEL)), 2.0, 0.5),
    (Kind.CALLBACK, "", ((CB_QUEUED, SUBMIT), (CB_CANCELLING, ASK_CANCEL), (HANDLED, CANCEL)), 0.2, 0.1),  # C7
    (Kind.CALLBACK, "", ((_discarded(Reason.RATE_LIMITED), THROTTLED),), 0.5, 0.2),
    (Kind.CALLBACK, "", ((_discarded(Reason.CCE_CONNECTION_FAILURE), SUBMIT),), 0.3, 0.1),
    # Still in play: only the last hour's.
    (Kind.TASK, "Sales", (), 0, 3.0),  # unread: in the throttle's backlog
    (Kind.TASK, "Sales", ((TASK_QUEUED, SUBMIT),), 0, 14.0),
    (Kind.TASK, "Support", ((TASK_QUEUED, SUBMIT), (TASK_RESERVED, WAIT)), 0, 8.0),
    (Kind.TASK, "Waiting", ((TASK_QUEUED, SUBMIT),), 0, 4.0),  # MRD 5002 has no ready agent
    (Kind.TASK, "Sales", ((TASK_QUEUED, SUBMIT), (TASK_CANCELLING, ASK_CANCEL)), 0, 1.0),
    (Kind.TASK, "Sales", ((_discarded(Reason.NO_SCRIPT), SUBMIT), (TASK_RENOTIFYING, ASK_RENOTIFY)), 0, 0.5),
    (Kind.CALLBACK, "", (), 0, 2.0),
    (Kind.CALLBACK, "", ((CB_QUEUED, SUBMIT),), 0, 16.0),
    (Kind.CALLBACK, "", ((CB_QUEUED, SUBMIT), (CB_CANCELLING, ASK_CANCEL)), 0, 0.5),
)
# Asked for by the client (the API); every other move is the CCE's.
CLIENT_MOVES = frozenset({TASK_CANCELLING, CB_CANCELLING, TASK_RENOTIFYING})
FIRST = ("Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger", "Radia", "Tim")
LAST = ("Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen", "Perlman")
TITLES = {
    Kind.TASK: ("Order {n}: where is my parcel?", "Refund for order {n}", "Order {n} arrived damaged",
                "Change the address of order {n}", "Question about invoice {n}", "Cancel my subscription",
                "Password reset does not work"),
    Kind.CALLBACK: ("Call me back about order {n}", "Callback: contract renewal", "Callback: billing question"),
}  # fmt: skip
ACKNOWLEDGED_SHARE = 0.95  # of the discard alerts older than an hour


@dataclass(frozen=True)
class Path:
    """One of PATHS with what its contacts carry, derived once; both ways of filling write from it."""

    kind: str
    selector: str
    pairs: tuple[Pair, ...]  # the create's (unread, —) first
    rules: tuple[str, ...]
    sources: tuple[str, ...]
    offsets: tuple[tuple[float, float], ...]  # seconds after the create of each move, fastest and slowest
    mrd_id: int | None  # where the CCE put it (tasks: their selector's MRD; callbacks: feed 200's notification)
    used_selector: str
    submitted: bool
    queued: bool
    routed: int | None  # the move at which an agent took it (T3, or C3/C7 for a callback)
    attempt: int

    @property
    def feed_id(self) -> int:
        return 100 if self.kind == Kind.TASK else 200


def _path(kind: str, selector: str, moves: tuple) -> Path:
    pairs = (UNREAD, *(pair for pair, _ in moves))
    rules = tuple(rule_for(kind, before, after) for before, after in zip((None, *pairs), pairs, strict=False))
    if None in rules:
        raise ValueError(f"the lifecycle table refuses a move of the {kind} path {pairs}")
    offsets, low, high = [(0.0, 0.0)], 0.0, 0.0
    for _, (fastest, slowest) in moves:
        low, high = low + fastest, high + slowest
        offsets.append((low, high))
    mrd_id, used = seed.DEMO_FEEDS[200][2] if kind == Kind.CALLBACK else (
        seed.DEMO_DIALED_NUMBERS.get(selector, (None,))[0], selector)
    taken = TASK_RESERVED if kind == Kind.TASK else HANDLED
    routed = pairs.index(taken) if taken in pairs else None
    return Path(
        kind, selector, pairs, rules,
        tuple(Source.API if i == 0 or pair in CLIENT_MOVES else Source.CCE for i, pair in enumerate(pairs)),
        tuple(offsets), mrd_id, used,
        # The throttle discards before the CCE sees the contact: nothing of a submission is recorded.
        submitted=len(pairs) > 1 and pairs[1] != _discarded(Reason.RATE_LIMITED),
        queued=any(pair.state == State.QUEUED for pair in pairs), routed=routed,
        attempt=1 + pairs.count(TASK_RENOTIFYING),
    )  # fmt: skip


PATH_SPECS = [_path(kind, selector, moves) for kind, selector, moves, _, _ in PATHS]


# --- how many of what, and when -----------------------------------------------------------------------------


# Contact number k of a window takes the path its Weyl number frac(k·φ) falls on, so how many of each a table
# holds depends on its size only, and growing it adds contacts without moving any (rounding shares would).
GOLDEN, SILVER = (5**0.5 - 1) / 2, 2**0.5 - 1


def _spread(first: int, last: int, weights: list[float], step: float) -> list[int]:
    """How many of numbers first..last fall on each weight's share of [0, 1) by frac(k·step)."""
    whole, bounds, cumulative = sum(weights), [], 0.0
    for weight in weights:
        cumulative += weight
        bounds.append(cumulative / whole)
    counts = [0] * len(weights)
    for number in range(first, last + 1):
        counts[min(bisect.bisect_right(bounds, number * step % 1.0), len(weights) - 1)] += 1
    return counts


def window_counts(total: int) -> list[int]:
    """Contacts of a table of `total`: created before midnight, since midnight (over an hour ago), in the last hour."""
    today = round(total * TODAY_SHARE)
    earlier, last_hour = _spread(1, today, [TODAY_SHARE - LAST_HOUR_SHARE, LAST_HOUR_SHARE], SILVER)
    return [total - today, earlier, last_hour]


def plan(old: int, new: int, now: datetime) -> list[tuple[int, datetime, float, int]]:
    """(path, window start, window seconds, contacts to add) to grow the table from `old` to `new` contacts."""
    today = midnight(now)
    hour_ago = max(today, now - timedelta(hours=1))
    # In the first hour after midnight today's earlier contacts share the last hour's window.
    windows = [(now - HISTORY, today), (today, hour_ago if hour_ago > today else now), (hour_ago, now)]
    rows = []
    for window, (start, end), had, has in zip(range(3), windows, window_counts(old), window_counts(new), strict=True):
        weights = [path[3 + (window == 2)] for path in PATHS]
        for path, count in enumerate(_spread(had + 1, has, weights, GOLDEN)):
            if count:
                rows.append((path, start, (end - start).total_seconds(), count))
    return rows


def grow_to(size: int, *, progress: Callable[[str], None] = print, seed_value: int = 1,
            bulk_from: int = BULK_FROM) -> dict:
    """Add contacts until the table holds `size` (the demo configuration must exist); time it, count the table.

    On PostgreSQL, adding at least `bulk_from` contacts and at least as many as the table holds rebuilds
    the indexes and foreign keys once at the end instead of maintaining them row by row.
    """
    old = Contact.objects.count()
    if size < old:
        raise ValueError(f"the table already holds {old} contacts, more than {size}: sizes only grow")
    started, now = time.perf_counter(), timezone.now()
    bulk = size - old >= max(old, bulk_from, 1)
    agents: dict[int, list[tuple[int, str]]] = {}
    for pk, agent_id, mrd_id in Agent.objects.filter(ready=True).order_by("agent_id").values_list("pk", "agent_id",
                                                                                                   "mrd_id"):
        agents.setdefault(mrd_id, []).append((pk, agent_id))
    fill = _SqlFill if connection.vendor == "postgresql" else _PythonFill
    fill(now, agents, get_user_model().objects.get(username="supervisor").pk, seed_value + size).run(
        plan(old, size, now), lambda done: progress(f"  {old + done:,} / {size:,} contacts"), bulk=bulk
    )
    _reset_sequences()
    analyzed = _analyze()
    # The rows went straight to the tables, past the lifecycle's recorder: recount the figures' tallies
    # (after ANALYZE: the recount's plan needs the new sizes), then the tallies' own statistics.
    tallies.rebuild()
    filled = time.perf_counter() - started - analyzed
    analyze_seconds = analyzed + _analyze()
    # Counted now, not as of the fill's start: past midnight, "today" no longer holds today's share.
    counts = table_counts()
    if counts["today"] != round(size * TODAY_SHARE):
        progress(f"  midnight passed: {counts['today']:,} contacts since midnight, not TODAY_SHARE of {size:,}")
    return {"seconds": round(filled, 2), "analyze_seconds": round(analyze_seconds, 2), **counts}


def table_counts(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        "contacts": Contact.objects.count(),
        "transitions": Transition.objects.count(),
        "today": Contact.objects.filter(created_at__gte=midnight(now)).count(),
        "in_play": Contact.objects.exclude(state__in=FINAL_STATES).count(),
    }


def _next_id(model: type[models.Model]) -> int:
    return (model.objects.aggregate(last=Max("id"))["last"] or 0) + 1


def _reset_sequences() -> None:
    """The ids were given explicitly; the sequences must continue after them."""
    statements = connection.ops.sequence_reset_sql(no_style(), [Contact, Transition, AgentAssignment,
                                                                AlertAcknowledgement])
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _analyze() -> float:
    """Planner statistics (and, outside a transaction, the visibility map) as autovacuum keeps a live table's."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            for table in (*GROWING_TABLES, MoveTally._meta.db_table):
                cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")
        else:
            cursor.execute("ANALYZE")
    return time.perf_counter() - started


# --- filling inside PostgreSQL ------------------------------------------------------------------------------

SQL_BATCH = 100_000  # contacts (and their rows) per INSERT … SELECT
TEMPORARY_TABLES = ("bench_path", "bench_step", "bench_plan", "bench_new", "bench_slot")

# The draws of each new contact, its id in creation order, and the times its rows need.
NEW_CONTACTS = """
CREATE TEMP TABLE bench_new AS
SELECT %(first_id)s + row_number() OVER (ORDER BY d.created_at) - 1 AS id, d.*
FROM (SELECT b.path, b.start + make_interval(secs => random() * b.span) AS created_at,
             random() AS u, random() AS u2, 10000 + floor(random() * 90000)::int AS num,
             floor(random() * 1e9)::int AS pick
      FROM bench_plan b, generate_series(1, b.n)) d
"""
SLOTS = """
CREATE TEMP TABLE bench_slot AS
SELECT s.id, s.started, CASE
         WHEN s.release_lo IS NOT NULL THEN
           LEAST(%(now)s, s.created_at + make_interval(secs => s.release_lo + s.u * (s.release_hi - s.release_lo)))
         WHEN s.kind = 'task' THEN
           GREATEST(%(now)s + interval '30 seconds', s.started + make_interval(secs => s.handle))
         ELSE s.started + make_interval(secs => s.handle) END AS ends
FROM (SELECT n.id, n.created_at, n.u, p.kind, p.release_lo, p.release_hi,
             %(handle_lo)s + n.u2 * (%(handle_hi)s - %(handle_lo)s) AS handle,
             LEAST(%(now)s, n.created_at + make_interval(secs => p.routed_lo + n.u * (p.routed_hi - p.routed_lo)))
               AS started
      FROM bench_new n JOIN bench_path p ON p.path = n.path WHERE p.routed_lo IS NOT NULL) s
"""
CONTACTS = """
INSERT INTO contacts_contact (id, public_id, kind, feed_id, state, reason, name, title, description, script_selector,
    media_address, requeue_on_recovery, tags, variables, cce_mrd_id, cce_script_selector, estimated_wait, cce_task_id,
    agent_id, attempt, resubmitted_from_id, due_at, created_at, updated_at, last_polled_at)
SELECT n.id, upper(md5(n.id || ':' || n.u)), p.kind, p.feed_id, p.state, p.reason,
       (%(first)s::text[])[1 + n.pick %% 12] || ' ' || (%(last)s::text[])[1 + (n.pick / 12) %% 10],
       replace(x.template, '{n}', n.num::text),
       CASE WHEN n.num %% 3 > 0 THEN
         'Customer writes about ' || lower(replace(x.template, '{n}', n.num::text)) || '; see the order history.'
         ELSE '' END,
       p.selector,
       CASE WHEN p.kind = 'callback' THEN '+49 30 ' || n.num || lpad((n.id %% 100)::text, 2, '0') ELSE '' END,
       false, p.tags,
       CASE WHEN x.template LIKE '%%{n}%%'
            THEN jsonb_build_array(jsonb_build_object('name', 'cv_1', 'value', n.num::text)) ELSE '[]' END,
       CASE WHEN p.submitted THEN p.mrd_id END, CASE WHEN p.submitted THEN p.used_selector ELSE '' END,
       CASE WHEN p.queued THEN CASE WHEN p.selector = 'Waiting' THEN -1 ELSE floor(n.u2 * 300)::int END END,
       CASE WHEN p.routed_lo IS NOT NULL AND p.kind = 'task' THEN p.mrd_id || '_' || n.id || '_' || p.attempt
            ELSE '' END,
       CASE WHEN p.routed_lo IS NOT NULL THEN p.agent_ids[1 + n.id %% cardinality(p.agent_ids)] ELSE '' END,
       p.attempt, NULL,
       CASE WHEN p.kind = 'task' AND p.routed_lo IS NOT NULL AND p.release_lo IS NULL THEN s.ends END,
       n.created_at, x.updated_at, x.updated_at
FROM bench_new n JOIN bench_path p ON p.path = n.path
CROSS JOIN LATERAL (SELECT p.titles[1 + (n.pick / 144) %% cardinality(p.titles)] AS template,
    LEAST(%(now)s, n.created_at + make_interval(secs => p.last_lo + n.u * (p.last_hi - p.last_lo))) AS updated_at) x
LEFT JOIN bench_slot s ON s.id = n.id
WHERE n.id BETWEEN %(low)s AND %(high)s
ORDER BY n.id
"""
TRANSITIONS = """
INSERT INTO contacts_transition (id, contact_id, rule, from_state, from_reason, to_state, to_reason, source, user_id,
    comment, created_at)
SELECT %(first_id)s + row_number() OVER (ORDER BY m.at, m.contact_id, m.step) - 1, m.contact_id, m.rule, m.from_state,
       m.from_reason, m.to_state, m.to_reason, m.source, NULL, '', m.at
FROM (SELECT n.id AS contact_id, s.*,
             LEAST(%(now)s, n.created_at + make_interval(secs => s.lo + n.u * (s.hi - s.lo))) AS at
      FROM bench_new n JOIN bench_step s ON s.path = n.path WHERE n.id BETWEEN %(low)s AND %(high)s) m
ORDER BY 1
"""
ASSIGNMENTS = """
INSERT INTO contacts_agentassignment (agent_id, contact_id, mrd_id, started_at, ends_at, released_at)
SELECT p.agents[1 + n.id %% cardinality(p.agents)], n.id, p.mrd_id, s.started, s.ends,
       CASE WHEN s.ends <= %(now)s THEN s.ends END
FROM bench_new n JOIN bench_path p ON p.path = n.path JOIN bench_slot s ON s.id = n.id
WHERE n.id BETWEEN %(low)s AND %(high)s
ORDER BY s.started
"""
ACKNOWLEDGEMENTS = """
INSERT INTO contacts_alertacknowledgement (transition_id, queue_alert_id, user_id, at, alert_at)
SELECT t.id, NULL, %(user_id)s, LEAST(%(now)s, t.created_at + make_interval(secs => 60 + random() * 1740)), t.created_at
FROM contacts_transition t
WHERE t.contact_id BETWEEN %(low)s AND %(high)s AND t.to_state = 'discarded' AND t.to_reason = ANY(%(errors)s)
  AND t.created_at < %(now)s - interval '1 hour' AND random() < %(share)s
ORDER BY t.id
"""


SECONDARY_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
WHERE i.indrelid = ANY(%s::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
"""
FOREIGN_KEYS = """
SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid) FROM pg_constraint
WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])
"""


@contextmanager
def _rebuilt_indexes(cursor) -> Iterator[None]:
    """Without the growing tables' foreign keys and the indexes no constraint needs; then build them again.

    Building an index once costs a fraction of updating it row by row (measured here at 100,000 contacts:
    40 s of inserts with every index, under 1 s without plus 17 s of builds, the trigram GIN indexes the
    most), and one validating join replaces a foreign-key check per row at commit. Inside the fill's
    transaction: a failure leaves the schema as it was.
    """
    # Checks still deferred in this transaction (rows inserted earlier) would forbid the ALTER TABLEs: run them now.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute(SECONDARY_INDEXES, [list(GROWING_TABLES)])
    indexes = cursor.fetchall()
    cursor.execute(FOREIGN_KEYS, [list(GROWING_TABLES)])
    keys = cursor.fetchall()
    for table, name, _ in keys:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    for _, definition in indexes:
        cursor.execute(definition)
    for table, name, definition in keys:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's constraints are INITIALLY DEFERRED


class _SqlFill:
    """Generates the rows inside PostgreSQL: a plan of a few dozen rows in, INSERT … SELECT out."""

    def __init__(self, now: datetime, agents: dict, user_id: int, seed_value: int) -> None:
        self.now, self.agents, self.user_id, self.seed_value = now, agents, user_id, seed_value

    def run(self, plan_rows: list[tuple], progress: Callable[[int], None], *, bulk: bool) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")  # the index builds of a bulk fill
            cursor.execute("SELECT setseed(%s)", [(self.seed_value % 1000) / 1000])
            self.describe_paths(cursor, plan_rows)
            first_id, total = _next_id(Contact), sum(row[3] for row in plan_rows)
            params = {"now": self.now, "first_id": first_id, "handle_lo": HANDLE[0], "handle_hi": HANDLE[1]}
            cursor.execute(NEW_CONTACTS, params)
            cursor.execute(SLOTS, params)
            # Temporary tables get no statistics from autovacuum; the batches' joins need them.
            cursor.execute("CREATE INDEX ON bench_new (id); CREATE INDEX ON bench_slot (id); ANALYZE bench_new;"
                           " ANALYZE bench_slot")
            with _rebuilt_indexes(cursor) if bulk else nullcontext():
                for low in range(first_id, first_id + total, SQL_BATCH):
                    self.write_batch(cursor, low, min(low + SQL_BATCH, first_id + total) - 1)
                    progress(min(low + SQL_BATCH, first_id + total) - first_id)
            cursor.execute(f"DROP TABLE {', '.join(TEMPORARY_TABLES)}")

    def describe_paths(self, cursor, plan_rows: list[tuple]) -> None:
        cursor.execute(f"DROP TABLE IF EXISTS {', '.join(TEMPORARY_TABLES)}")
        cursor.execute(
            "CREATE TEMP TABLE bench_path (path int PRIMARY KEY, kind text, feed_id int, state text, reason text,"
            " selector text, mrd_id int, used_selector text, submitted bool, queued bool, attempt int, tags jsonb,"
            " titles text[], last_lo float8, last_hi float8, routed_lo float8, routed_hi float8, release_lo float8,"
            " release_hi float8, agents int[], agent_ids text[]);"
            " CREATE TEMP TABLE bench_step (path int, step int, rule text, from_state text, from_reason text,"
            " to_state text, to_reason text, source text, lo float8, hi float8);"
            " CREATE TEMP TABLE bench_plan (path int, start timestamptz, span float8, n int)"
        )
        paths, steps = [], []
        for index, path in enumerate(PATH_SPECS):
            routed = path.offsets[path.routed] if path.routed is not None else (None, None)
            release = (path.offsets[path.routed + 1] if path.routed is not None and path.kind == Kind.TASK
                       and path.routed + 1 < len(path.pairs) else (None, None))
            slots = self.agents.get(path.mrd_id, []) if path.routed is not None else []
            paths.append((index, path.kind, path.feed_id, path.pairs[-1].state, path.pairs[-1].reason, path.selector,
                          path.mrd_id, path.used_selector, path.submitted, path.queued, path.attempt,
                          json.dumps(_tags(path.kind)), list(TITLES[path.kind]), *path.offsets[-1], *routed, *release,
                          [pk for pk, _ in slots], [agent_id for _, agent_id in slots]))
            before = Pair("", "")
            for step, (rule, pair, source, offset) in enumerate(zip(path.rules, path.pairs, path.sources,
                                                                    path.offsets, strict=True)):
                steps.append((index, step, rule, before.state, before.reason, pair.state, pair.reason, source, *offset))
                before = pair
        cursor.executemany(f"INSERT INTO bench_path VALUES ({', '.join(['%s'] * 21)})", paths)
        cursor.executemany(f"INSERT INTO bench_step VALUES ({', '.join(['%s'] * 10)})", steps)
        cursor.executemany("INSERT INTO bench_plan VALUES (%s, %s, %s, %s)", plan_rows)

    def write_batch(self, cursor, low: int, high: int) -> None:
        params = {"now": self.now, "low": low, "high": high, "first": list(FIRST), "last": list(LAST),
                  "user_id": self.user_id, "errors": sorted(ERROR_CODES), "share": ACKNOWLEDGED_SHARE}
        cursor.execute(CONTACTS, params)
        cursor.execute(TRANSITIONS, {**params, "first_id": _next_id(Transition)})
        cursor.execute(ASSIGNMENTS, params)
        cursor.execute(ACKNOWLEDGEMENTS, params)


# --- filling from Python (SQLite: the tests' tiny sizes) ----------------------------------------------------


class _PythonFill:
    """Generates the same rows in Python and inserts them with executemany: portable, and slow."""

    def __init__(self, now: datetime, agents: dict, user_id: int, seed_value: int) -> None:
        self.now, self.agents, self.user_id = now, agents, user_id
        self.rng = random.Random(seed_value)
        self.next_ids = {model: _next_id(model) for model in (Contact, Transition, AgentAssignment,
                                                              AlertAcknowledgement)}

    def run(self, plan_rows: list[tuple], progress: Callable[[int], None], *, bulk: bool) -> None:
        stamps = sorted(
            (start + timedelta(seconds=self.rng.random() * span), path)
            for path, start, span, count in plan_rows
            for _ in range(count)
        )
        for first in range(0, len(stamps), BATCH):
            rows: dict[type[models.Model], list[dict]] = {Contact: [], Transition: [], AgentAssignment: []}
            for created_at, path in stamps[first:first + BATCH]:
                self.add_contact(rows, created_at, PATH_SPECS[path])
            # Transition ids grow with time, as the lifecycle writes them.
            rows[Transition].sort(key=lambda row: row["created_at"])
            for row in rows[Transition]:
                row["id"] = self.take_id(Transition)
            rows[AlertAcknowledgement] = self.acknowledgements(rows[Transition])
            with transaction.atomic():
                for model, model_rows in rows.items():
                    write_rows(model, model_rows)
            progress(min(first + BATCH, len(stamps)))

    def take_id(self, model: type[models.Model]) -> int:
        self.next_ids[model] += 1
        return self.next_ids[model] - 1

    def add_contact(self, rows: dict, created_at: datetime, path: Path) -> None:
        pk, fraction = self.take_id(Contact), self.rng.random()  # one draw for all durations keeps the moves in order
        times = [min(self.now, created_at + timedelta(seconds=low + fraction * (high - low)))
                 for low, high in path.offsets]
        before = Pair("", "")
        for rule, pair, source, at in zip(path.rules, path.pairs, path.sources, times, strict=True):
            rows[Transition].append({"contact_id": pk, "rule": rule, "from_state": before.state,
                                     "from_reason": before.reason, "to_state": pair.state, "to_reason": pair.reason,
                                     "source": source, "created_at": at})
            before = pair
        contact = self.contact_row(pk, path, times)
        if path.routed is not None:
            rows[AgentAssignment].append(self.assignment(contact, path, times))
        rows[Contact].append(contact)

    def contact_row(self, pk: int, path: Path, times: list[datetime]) -> dict:
        order, rng = self.rng.randrange(10_000, 100_000), self.rng
        template = rng.choice(TITLES[path.kind])
        title = template.format(n=order)
        return {
            "id": pk, "public_id": f"{rng.getrandbits(128):032X}", "kind": path.kind, "feed_id": path.feed_id,
            "state": path.pairs[-1].state, "reason": path.pairs[-1].reason,
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "title": title,
            "description": f"Customer writes about {title.lower()}; see the order history." if order % 3 else "",
            "script_selector": path.selector,
            "media_address": f"+49 30 {order}{pk % 100:02d}" if path.kind == Kind.CALLBACK else "",
            "tags": _tags(path.kind),
            "variables": [{"name": "cv_1", "value": str(order)}] if "{n}" in template else [],
            "cce_mrd_id": path.mrd_id if path.submitted else None,
            "cce_script_selector": path.used_selector if path.submitted else "",
            "estimated_wait": (-1 if path.selector == "Waiting" else rng.randrange(0, 300)) if path.queued else None,
            "attempt": path.attempt, "created_at": times[0], "updated_at": times[-1], "last_polled_at": times[-1],
        }  # fmt: skip

    def assignment(self, contact: dict, path: Path, times: list[datetime]) -> dict:
        """The agent slot of a routed contact: a task holds it until handled, a callback for its call."""
        agents = self.agents[path.mrd_id]
        agent_pk, contact["agent_id"] = agents[contact["id"] % len(agents)]
        started, handle = times[path.routed], timedelta(seconds=self.rng.uniform(*HANDLE))
        ends = started + handle
        if path.kind == Kind.TASK:
            handled = path.routed + 1 < len(times)
            ends = times[path.routed + 1] if handled else max(self.now + timedelta(seconds=30), ends)
            contact["cce_task_id"] = f"{path.mrd_id}_{contact['id']}_{path.attempt}"
            contact["due_at"] = None if handled else ends
        return {"id": self.take_id(AgentAssignment), "agent_id": agent_pk, "contact_id": contact["id"],
                "mrd_id": path.mrd_id, "started_at": started, "ends_at": ends,
                "released_at": ends if ends <= self.now else None}

    def acknowledgements(self, moves: list[dict]) -> list[dict]:
        """Supervisors took on most discard alerts older than an hour, within half an hour of each."""
        cutoff = self.now - timedelta(hours=1)
        return [
            {"id": self.take_id(AlertAcknowledgement), "transition_id": row["id"], "user_id": self.user_id,
             "at": min(self.now, row["created_at"] + timedelta(seconds=self.rng.uniform(60, 1800))),
             "alert_at": row["created_at"]}
            for row in moves
            if row["to_state"] == State.DISCARDED and row["to_reason"] in ERROR_CODES and row["created_at"] < cutoff
            and self.rng.random() < ACKNOWLEDGED_SHARE
        ]


def _tags(kind: str) -> list[str]:
    return ["web"] if kind == Kind.TASK else ["phone"]


def write_rows(model: type[models.Model], rows: list[dict]) -> None:
    """Insert `rows` (attribute name → value; unnamed fields take their default) with one executemany."""
    if not rows:
        return
    fields = model._meta.concrete_fields
    defaults = {field.attname: field.get_default() for field in fields}
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    values = [
        [field.get_db_prep_save(row.get(field.attname, defaults[field.attname]), connection) for field in fields]
        for row in rows
    ]
    table, marks = connection.ops.quote_name(model._meta.db_table), ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
