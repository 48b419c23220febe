"""Pushed aggregates: the overview's figures and the alerts' news, computed once per interval for every dashboard.

Before, every open home page fetched /overview after each burst of events and re-read /alerts/feed
after each discard: the server's cost per event grew with the number of pages. Now `push_snapshots`
runs every LIVE_SNAPSHOT_SECONDS in one web process's hub (contacts.live.hub claims each interval in
Redis, so exactly one process computes them, whatever the number of web processes and sockets) and
broadcasts two messages to every hub:

    overview.snapshot  {"overview": the /overview JSON, whose "version" (ms since the epoch) orders them}
    alerts.snapshot    {"version", "since": cursors the previous snapshot reached, "cursors", "alerts",
                        "acks", "more", "unacknowledged"}: the alert feed (contacts.alerts.feed) read once
                        from `since` minus the resync window, for every page at once, with the present
                        state of the queue alerts open at the previous snapshot (so clears arrive too)
    alerts.groups      {"version", "groups", "total", "open", "unacknowledged", "capped"}: the alerts by cause
                        and place (contacts.alerts.groups), for the home pages and the wall boards: with
                        every new alert or acknowledgement, else every GROUPS_SECONDS

A page applies an alerts snapshot only when it already has everything up to `since` (else, or when
`more` says the snapshot is partial, it reads the feed itself), so a snapshot lost on the way costs
that page one read. A page with no snapshot for a few intervals reads for itself, as before. When
nothing moved (no new transition, alert or acknowledgement) a snapshot is skipped, except every
IDLE_SECONDS, since ages and the 15-minute windows move on their own.
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings

from contacts.alerts import feed, groups
from contacts.core.health import redis_client
from contacts.live import broadcast
from contacts.live.resync import RESYNC_WINDOW

from . import overview

log = logging.getLogger(__name__)

IDLE_SECONDS = 10.0
# The alert groups without a new alert or acknowledgement: this often, so a resolution shows within it.
GROUPS_SECONDS = 5.0


def state_key() -> str:
    return f"{settings.REDIS_PREFIX}:live:snapshot"


def _previous() -> dict:
    try:
        raw = redis_client(settings.REDIS_URL).get(state_key())
    except Exception:  # without Redis nothing can be pushed either; the pages read for themselves
        return {}
    return json.loads(raw) if raw else {}


def _remember(state: dict) -> None:
    try:
        redis_client(settings.REDIS_URL).set(state_key(), json.dumps(state), ex=3600)
    except Exception:
        log.warning("snapshot state not saved; the next snapshot re-reads from the newest alerts", exc_info=True)


def push_snapshots() -> bool:
    """Compute the overview and the alerts' news once and broadcast them; False when skipped (nothing moved)."""
    previous = _previous()
    latest = feed.latest()
    moved = latest.as_json() != previous.get("cursors")
    if not moved and time.time() - previous.get("pushed_at", 0) < IDLE_SECONDS:
        return False
    since = feed.Cursors(**previous["cursors"]) if "cursors" in previous else latest
    after = feed.Cursors(**{name: max(0, getattr(since, name) - RESYNC_WINDOW) for name in feed.SEQUENCES})
    # The queue alerts open at the last snapshot come back in their present state, so a clear reaches the pages.
    news = feed.feed(after, open_ids=previous.get("open") or feed.open_queue_ids()[: feed.OPEN_MAX])
    figures = overview.overview()
    broadcast.send(broadcast.DASHBOARD_GROUP, {"type": "overview.snapshot", "overview": figures})
    broadcast.send(broadcast.DASHBOARD_GROUP, {
        "type": "alerts.snapshot", "version": figures["version"], "since": since.as_json(), **news,
    })
    groups_at = previous.get("groups_at", 0)
    if _alerts_changed(news, since) or time.time() - groups_at >= GROUPS_SECONDS:
        # The alert groups of the pages and wall boards (contacts.alerts.groups): aggregates, no contact named.
        broadcast.send(broadcast.DASHBOARD_GROUP, {"type": "alerts.groups", "version": figures["version"],
                                                   **groups.alert_groups()})
        groups_at = time.time()
    _remember({"cursors": news["cursors"] if not news["more"] else latest.as_json(), "pushed_at": time.time(),
               "open": feed.open_queue_ids()[: feed.OPEN_MAX], "groups_at": groups_at})
    return True


def _alerts_changed(news: dict, since: feed.Cursors) -> bool:
    """A new alert, an acknowledgement or a cleared queue alert since the previous snapshot: the groups move now.

    Otherwise they are recomputed every GROUPS_SECONDS, which is how fast a group resolves itself after its
    contacts moved on (a move is no alert). Under a steady load without discards that spares the web process
    the alert list's read once a second while it writes to every socket.
    """
    if news["cursors"]["acks"] > since.acks or news["more"]:
        return True
    return any((alert["kind"] == "discard" and alert["id"] > since.discards)
               or (alert["kind"] == "queue" and (alert["id"] > since.queue or alert.get("cleared_at")))
               for alert in news["alerts"])
