"""Template tags that put alerts on every live dashboard page: the count in the top bar, alerts.js and its
configuration, and the alert list (the home page's first paint).

Live pages are those whose view passes `live` (the live.js configuration); base.html calls these tags
only there, so the views need not know about alerts.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.urls import reverse

from .. import alert_feed, dashboard

register = template.Library()


def alert_state(request: HttpRequest) -> dict:
    """The page's starting point (cursors, count, open queue alerts), read once per request for all tags."""
    state = getattr(request, "_alert_state", None)
    if state is None:
        cursors = alert_feed.latest()  # before the list and the count, so the page resyncs from here
        state = {"cursors": cursors.as_json(), "unacknowledged": alert_feed.unacknowledged()}
        state["open"] = alert_feed.open_queue_ids()[: alert_feed.OPEN_MAX]
        request._alert_state = state
    return state


@register.inclusion_tag("dashboard/_alert_count.html", takes_context=True)
def alert_count(context: template.Context) -> dict:
    return {"count": alert_state(context["request"])["unacknowledged"]}


@register.inclusion_tag("dashboard/_alerts_boot.html", takes_context=True)
def alerts_boot(context: template.Context) -> dict:
    request = context["request"]
    user = request.user
    config = {
        **alert_state(request),
        "feed": reverse("alerts-feed"),
        "ack": reverse("alerts-ack"),
        "window": dashboard.RESYNC_WINDOW,
        "csrf": get_token(request),
        "can_acknowledge": user.has_perm("contacts.acknowledge_alert"),
        "can_manage": user.has_perm("contacts.manage_contacts"),
    }
    return {"alerts_config": config}


@register.inclusion_tag("dashboard/_alerts.html", takes_context=True)
def alert_list(context: template.Context) -> dict:
    request = context["request"]
    state = alert_state(request)
    return {
        "alerts": alert_feed.recent(),
        "unacknowledged": state["unacknowledged"],
        "cursors": state["cursors"],
        "can_acknowledge": request.user.has_perm("contacts.acknowledge_alert"),
        "csrf_token": get_token(request),
        "horizon_hours": int(alert_feed.HORIZON.total_seconds() // 3600),
    }


@register.filter
def iso_time(value: str) -> datetime | None:
    """An ISO 8601 string of the alert format as a datetime, for the `time`/`date` filters."""
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
