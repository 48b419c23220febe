"""What every live page carries about alerts: the count in the top bar, alerts.js's starting point, the list.

Read once per request by the page's view (never by a template tag), so a page costs the same few
queries whatever it shows.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.urls import reverse

from contacts.core.permissions import ACKNOWLEDGE_ALERT, MANAGE_CONTACTS
from contacts.live.resync import RESYNC_WINDOW

from . import feed
from .discards import fix_permissions
from .groups import alert_groups


def page_alerts(request: HttpRequest, with_list: bool = False) -> dict:
    """The alerts' part of a live page's context; `with_list` adds the alert list (the home page's first paint)."""
    cursors = feed.latest()  # before the list and the count, so the page resyncs from here
    unacknowledged = feed.unacknowledged()
    can_acknowledge = request.user.has_perm(ACKNOWLEDGE_ALERT)
    config = {
        "cursors": cursors.as_json(),
        "unacknowledged": unacknowledged,
        "open": feed.open_queue_ids()[: feed.OPEN_MAX],
        "feed": reverse("alerts-feed"),
        "ack": reverse("alerts-ack"),
        "window": RESYNC_WINDOW,
        "csrf": get_token(request),
        "can_acknowledge": can_acknowledge,
        "can_manage": request.user.has_perm(MANAGE_CONTACTS),
        # Fix links into the admin are shown only to those who may act there.
        "perms": fix_permissions(request.user),
    }
    context = {"count": unacknowledged, "config": config}
    if with_list:
        alerts = feed.recent()
        context["list"] = {
            "alerts": alerts,
            "groups": alert_groups(alerts=alerts),
            "unacknowledged": unacknowledged,
            "cursors": config["cursors"],
            "can_acknowledge": can_acknowledge,
            "perms": config["perms"],
            "can_manage": config["can_manage"],
            "horizon_hours": int(feed.HORIZON.total_seconds() // 3600),
        }
    return context
