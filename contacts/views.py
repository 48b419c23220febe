"""Pages of ccpdash outside the CCP API: the live dashboard (overview, contact list and detail), its JSON
feeds (overview, events) and the health check.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import broadcast, dashboard, health
from .lifecycle import DISCARD_REASONS, Kind, Reason, State
from .models import Feed

VIEW_PERMISSION = "contacts.view_dashboard"
WINDOWS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}


def dashboard_page(view: Callable) -> Callable:
    """Anonymous → the login form with ?next=; signed in without the permission → 403."""
    return login_required(permission_required(VIEW_PERMISSION, raise_exception=True)(never_cache(view)))


def json_permission_required(permission: str) -> Callable:
    """For fetch(): 401/403 as JSON instead of a redirect, so the page can say "signed out"."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return JsonResponse({"error": "signed out"}, status=401)
            if not request.user.has_perm(permission):
                return JsonResponse({"error": "forbidden"}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def dashboard_json(view: Callable) -> Callable:
    return require_GET(never_cache(json_permission_required(VIEW_PERMISSION)(view)))


def live_config(request: HttpRequest, last_id: int, **extra) -> dict:
    """What live.js needs: where to listen and resync, and the newest id the page's data includes."""
    return {
        "socket": "/ws/dashboard",
        "events": reverse("dashboard-events"),
        "login": f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}",
        "last_id": last_id,
        "window": dashboard.RESYNC_WINDOW,
        **extra,
    }


@dashboard_page
def home(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    overview = dashboard.overview(now)
    events = dashboard.recent_events()
    for event in events:
        # For the template only: the time in TIME_ZONE and the readable reason, as dashboard.js draws them.
        event["when"] = datetime.fromisoformat(event["at"])
        event["reason_label"] = dashboard.short_reason(event["to"][1])
    context = {
        "now": now,
        "overview": overview,
        "events": events,
        "live": live_config(request, overview["last_id"], overview=reverse("dashboard-overview")),
    }
    return render(request, "dashboard/home.html", context)


@dashboard_json
def overview_json(request: HttpRequest) -> HttpResponse:
    return JsonResponse(dashboard.overview())


class EventsQuery(forms.Form):
    after = forms.IntegerField()  # below 0 means from the start: a page subtracts its window blindly
    limit = forms.IntegerField(min_value=1, max_value=dashboard.EVENTS_MAX, required=False)
    contact = forms.CharField(max_length=32, required=False)


@dashboard_json
def events(request: HttpRequest) -> HttpResponse:
    """Events after an id, in id order, in the broadcast's format; `next` continues while there are more."""
    query = EventsQuery(request.GET)
    if not query.is_valid():
        return JsonResponse({"error": "bad request", "fields": query.errors}, status=400)
    limit = query.cleaned_data["limit"] or dashboard.EVENTS_PAGE
    contact = query.cleaned_data["contact"]
    last_id = broadcast.latest_transition_id()
    items, more_after = dashboard.events_after(max(0, query.cleaned_data["after"]), limit, contact)
    next_url = None
    if more_after is not None:
        params = {"after": more_after, "limit": limit, **({"contact": contact} if contact else {})}
        next_url = f"{reverse('dashboard-events')}?{urlencode(params)}"
    return JsonResponse({"events": items, "next": next_url, "last_id": last_id})


class ContactFilterForm(forms.Form):
    """The list's filters; every field is optional and lives in the URL, so a view can be bookmarked."""

    q = forms.CharField(label="Search", max_length=100, required=False)
    kind = forms.ChoiceField(choices=[("", "any kind"), *Kind.choices], required=False)
    state = forms.ChoiceField(choices=[("", "any state"), *State.choices], required=False)
    reason = forms.ChoiceField(required=False)
    feed = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    selector = forms.CharField(label="Script selector", max_length=32, required=False)
    mrd = forms.RegexField(label="MRD", regex=r"^(\d{1,9}|none)$", required=False)
    window = forms.ChoiceField(
        label="Created", choices=[("", "any time"), *((k, f"last {k}") for k in WINDOWS)], required=False
    )

    def __init__(self, data, feeds: list[Feed]) -> None:
        super().__init__(data)
        reasons = [(value, label) for value, label in Reason.choices if value]
        self.fields["reason"].choices = [("", "any reason"), ("none", "— (none)"), *reasons]
        self.fields["feed"].choices = [("", "any feed"), *((f.id, str(f)) for f in feeds)]

    def filters(self) -> dict:
        data = dict(self.cleaned_data)
        data["window"] = WINDOWS.get(data.get("window") or "")
        return data


@dashboard_page
def contact_list(request: HttpRequest) -> HttpResponse:
    feeds = list(Feed.objects.all())
    form = ContactFilterForm(request.GET, feeds)
    last_id = broadcast.latest_transition_id()
    filters = form.filters() if form.is_valid() else {}
    before = dashboard.Cursor.parse(request.GET.get("before", ""))
    after = dashboard.Cursor.parse(request.GET.get("after", ""))
    page = dashboard.contact_page(dashboard.filter_contacts(filters), before=before, after=after)
    now = timezone.now()
    for contact in page.contacts:
        contact.age = dashboard.format_age((now - contact.created_at).total_seconds())
    kept = {key: value for key, value in request.GET.items() if key not in ("before", "after") and value}
    context = {
        "form": form,
        "page": page,
        "first_url": f"?{urlencode(kept)}",
        "newer_url": f"?{urlencode({**kept, 'after': page.newer})}" if page.newer else None,
        "older_url": f"?{urlencode({**kept, 'before': page.older})}" if page.older else None,
        "live": live_config(request, last_id, filters=_live_filters(form), first_page=page.first),
    }
    return render(request, "contacts/list.html", context)


def _live_filters(form: ContactFilterForm) -> dict:
    """The filters as contacts.js applies them to incoming events (same meaning as filter_contacts)."""
    if not form.is_valid():
        return {}
    data = {key: value for key, value in form.cleaned_data.items() if value not in (None, "")}
    if "window" in data:
        data["window"] = WINDOWS[data["window"]].total_seconds()
    return data


@dashboard_page
def contact_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    last_id = broadcast.latest_transition_id()
    contact = dashboard.contact_detail(public_id)
    if contact is None:
        raise Http404("No such contact")
    discard = DISCARD_REASONS.get(contact.reason) if contact.state == State.DISCARDED else None
    context = {
        "contact": contact,
        "timeline": dashboard.timeline(contact),
        "resubmission": getattr(contact, "resubmission", None),
        "discard": discard,
        "estimated_wait": dashboard.format_wait(contact.estimated_wait),
        "age": dashboard.format_age((timezone.now() - contact.created_at).total_seconds()),
        "discard_reasons": {code: {"cause": r.cause, "fix": r.fix} for code, r in DISCARD_REASONS.items()},
        "live": live_config(request, last_id, contact=contact.public_id),
    }
    from .workflow_views import detail_context  # it imports this module (forms, decorators)

    context.update(detail_context(request, contact, context["timeline"]))
    return render(request, "contacts/detail.html", context)


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database and Redis answer, else 503 naming what failed."""
    checks = {"database": health.database_ok(), "redis": health.redis_ok()}
    failed = [name for name, ok in checks.items() if not ok]
    body = {"status": "ok" if not failed else "failing", "failed": failed}
    return JsonResponse(body, status=503 if failed else 200)
