"""Reading events again: the events endpoint's pages, the first paint's recent activity, what a page tells live.js.

Ids grow by insert, not commit (DESIGN invariant 3), so a page re-reads from its newest id minus
RESYNC_WINDOW and dedupes; these are the events it gets, in the broadcast's format.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse

from contacts.core.models import Transition
from contacts.core.positions import CANCEL_SUCCEEDED, REASON_NAMES

from .broadcast import transition_event

RESYNC_WINDOW = 200  # ids a page re-reads below its newest: covers transactions that commit out of id order


EVENTS_PAGE, EVENTS_MAX = 500, 1000


RECENT_EVENTS = 30


def _event_rows() -> QuerySet:
    # The payload fields are not part of an event; leave the big ones in the database.
    return Transition.objects.select_related("contact", "user").defer(
        "contact__description", "contact__variables", "contact__tags"
    )


def events_after(after: int, limit: int = EVENTS_PAGE, contact: str = "") -> tuple[list[dict], int | None]:
    """Events with id > after in id order, and the id to continue after when there are more."""
    qs = _event_rows().filter(id__gt=after)
    if contact:
        qs = qs.filter(contact__public_id=contact)
    rows = list(qs.order_by("id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return [transition_event(row) for row in rows], (rows[-1].pk if more else None)


def recent_events(limit: int = RECENT_EVENTS) -> list[dict]:
    """The newest events, newest first: the dashboard's activity feed on first paint."""
    return [transition_event(row) for row in _event_rows().order_by("-id")[:limit]]


def live_config(request: HttpRequest, last_id: int, **extra) -> dict:
    """What live.js needs: where to listen and resync, and the newest id the page's data includes."""
    return {
        "socket": "/ws/dashboard",
        "events": reverse("dashboard-events"),
        "login": f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}",
        "last_id": last_id,
        "window": RESYNC_WINDOW,
        # How often the server pushes its snapshots (contacts.dashboard.snapshots): pages wait a few
        # of these for one before they fetch the figures themselves.
        "snapshot_ms": round(settings.LIVE_SNAPSHOT_SECONDS * 1000),
        # The reason codes' plain names, so live rows read the same words as server-rendered ones.
        "reason_names": REASON_NAMES,
        # Every time on the page is shown in the contact center's zone, the one "today" is counted in.
        "time_zone": settings.TIME_ZONE,
        # Successful cancels: shown as cancelled, never as discards.
        "cancel_codes": sorted(CANCEL_SUCCEEDED),
        **extra,
    }
