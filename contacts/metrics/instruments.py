"""The per-process instruments: counters, histograms and a gauge that each process updates as things happen.

prometheus-client's multi-process mode keeps each process's values in files under PROMETHEUS_MULTIPROC_DIR
(ccpdash.settings), and a scrape sums the files of every process of the host (contacts.metrics.views), so
two web processes and a Celery worker's children count into the same series. The values of a process that
exited stay in its files, so counters never go backwards when a process is replaced; its open-socket gauge
is dropped at the next scrape. Everything the database already knows (queues, waits, discards) is not
counted here: `contacts.metrics.collector` reads it at scrape time.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from contacts.core.models import Transition

# registry=None: these are read from the files only, never from the default registry of one process.
TRANSITIONS = Counter(
    "ccpdash_transitions", "Committed moves of the lifecycle, by rule of the move table and by who asked for it.",
    ["rule", "source"], registry=None,
)
REQUESTS = Counter(
    "ccpdash_http_requests",
    "HTTP requests answered, by route (the name of the URL pattern, never the path), method and status.",
    ["route", "method", "status"], registry=None,
)
REQUEST_SECONDS = Histogram(
    "ccpdash_http_request_duration_seconds",
    "Time from the request reaching Django's middleware to its response (a streamed body's first byte).",
    ["route", "method"], registry=None,
)
OPEN_SOCKETS = Gauge(
    "ccpdash_open_websockets", "Dashboard WebSockets open now (the sockets of every web process's hub).",
    registry=None, multiprocess_mode="livesum",
)
BROADCAST_SECONDS = Histogram(
    "ccpdash_broadcast_latency_seconds",
    "Time from a message being handed to the process's broadcaster (a move's: right after its commit) to the "
    "channel layer accepting its frame, by message type.",
    ["type"], registry=None,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# Methods outside these are counted as "other": the label's values stay a handful whatever clients send.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A request that matched no URL pattern (a 404, a refusal before routing).
UNMATCHED = "unmatched"


def count_transition(row: Transition) -> None:
    """The lifecycle's after-commit hook (registered in contacts.apps): one committed move."""
    TRANSITIONS.labels(row.rule, row.source).inc()


def count_transitions(rows: list[Transition]) -> None:
    """The batch form, after a transition_many() batch: one increment per (rule, source), not per row."""
    for (rule, source), count in collections.Counter((row.rule, row.source) for row in rows).items():
        TRANSITIONS.labels(rule, source).inc(count)


def observe_request(route: str | None, method: str, status: int, seconds: float) -> None:
    route = route if route is not None else UNMATCHED
    method = method if method in METHODS else "other"
    REQUESTS.labels(route, method, str(status)).inc()
    REQUEST_SECONDS.labels(route, method).observe(seconds)
