"""The wall board's page and its data: the KPI panel and the alert groups, for a screen read from across the room.

`/wall/` opens for a user who may see the dashboard, or with a wall board link (`/wall/?key=…`, which
moves the key into the board's cookie and reloads without it). `/wall/data` is the same data as JSON,
which the page reads when its socket (re)connects or misses a frame; between reads the socket pushes it.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from contacts.alerts.groups import alert_groups
from contacts.dashboard import kpis
from contacts.dashboard.overview import mrd_names

from . import access


def board() -> dict:
    """What the board shows: the KPI panel and the alert groups, versioned as the snapshots are."""
    now = timezone.now()
    return {
        "version": int(now.timestamp() * 1000),
        "generated_at": now.isoformat(),
        "kpis": kpis.panel(now, mrd_names()),
        "alerts": alert_groups(now),
    }


def _refused(request: HttpRequest) -> HttpResponse:
    return render(request, "wall/refused.html", status=403)


@require_GET
@never_cache
def wall(request: HttpRequest) -> HttpResponse:
    key = request.GET.get("key")
    if key is not None:  # a wall board link: keep the key in the board's cookie, out of the address bar
        if access.link_of(key) is None:
            return _refused(request)
        response = HttpResponseRedirect(request.path)
        access.set_key_cookie(response, key, request.is_secure())
        return response
    if not access.allowed(request.user, request.COOKIES.get(access.COOKIE)):
        return _refused(request)
    context = {"board": board(), "zone": settings.TIME_ZONE,
               "config": {"socket": "/wall/ws", "data": "/wall/data", "time_zone": settings.TIME_ZONE,
                          "stale_after_ms": 5000}}
    return render(request, "wall/board.html", context)


@require_GET
@never_cache
def wall_data(request: HttpRequest) -> HttpResponse:
    if not access.allowed(request.user, request.COOKIES.get(access.COOKIE)):
        return JsonResponse({"error": "forbidden"}, status=403)
    return JsonResponse(board())
