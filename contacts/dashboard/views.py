"""The dashboard's pages: the queues, the contact list and a contact; the overview's and the charts' JSON; CSV.

Thin function views: guard, read through the selectors (`overview`, `lists`, `charts`), render. Each
live page also carries what live.js and alerts.js need (`live_page`).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from contacts.alerts.context import page_alerts
from contacts.core.filters import WINDOWS, ContactFilterForm, filter_contacts
from contacts.core.formats import format_age, format_wait, reason_name
from contacts.core.lifecycle import CANCEL_SUCCEEDED, DISCARD_REASONS
from contacts.core.models import Feed
from contacts.core.permissions import dashboard_json, dashboard_page
from contacts.live import resync
from contacts.live.broadcast import latest_transition_id
from contacts.workflows.context import detail_context

from . import charts, export, lists, overview

# The discard codes that report a failure: every one but the successful cancels.
ERROR_CODES = frozenset(DISCARD_REASONS) - CANCEL_SUCCEEDED


def live_page(request: HttpRequest, last_id: int, *, with_alert_list: bool = False, **extra) -> dict:
    """The context every live page adds: live.js's configuration and the alerts' starting point."""
    return {"live": resync.live_config(request, last_id, **extra), "alerts": page_alerts(request, with_alert_list)}


@dashboard_page
def home(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    figures = overview.overview(now)
    events = resync.recent_events()
    for event in events:
        # For the template only: the time in TIME_ZONE and the readable reason, as dashboard.js draws them.
        event["when"] = datetime.fromisoformat(event["at"])
        event["reason_label"] = reason_name(event["to"][1])
        # A successful cancel is shown as cancelled, never as a discard (dashboard.js does the same).
        event["shown_state"] = "cancelled" if event["to"][1] in CANCEL_SUCCEEDED else event["to"][0]
    context = {
        "now": now,
        "zone": settings.TIME_ZONE,
        "overview": figures,
        "events": events,
        **live_page(request, figures["last_id"], with_alert_list=True, overview=reverse("dashboard-overview"),
                     overview_version=figures["version"]),
    }
    return render(request, "dashboard/home.html", context)


@dashboard_json
def overview_json(request: HttpRequest) -> HttpResponse:
    return JsonResponse(overview.overview())


@dashboard_page
def contact_list(request: HttpRequest) -> HttpResponse:
    feeds = list(Feed.objects.all())
    form = ContactFilterForm(request.GET, feeds)
    last_id = latest_transition_id()
    filters = form.filters() if form.is_valid() else {}
    before = lists.Cursor.parse(request.GET.get("before", ""))
    after = lists.Cursor.parse(request.GET.get("after", ""))
    page = lists.contact_page(filter_contacts(filters), before=before, after=after)
    now = timezone.now()
    for contact in page.contacts:
        contact.age = format_age((now - contact.created_at).total_seconds())
    kept = {key: value for key, value in request.GET.items() if key not in ("before", "after") and value}
    context = {
        "form": form,
        "page": page,
        "first_url": f"?{urlencode(kept)}",
        "newer_url": f"?{urlencode({**kept, 'after': page.newer})}" if page.newer else None,
        "older_url": f"?{urlencode({**kept, 'before': page.older})}" if page.older else None,
        **live_page(request, last_id, filters=_live_filters(form), first_page=page.first),
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
    last_id = latest_transition_id()
    contact = lists.contact_detail(public_id)
    if contact is None:
        raise Http404("No such contact")
    # A successful cancel is what the client asked for: no "why it was discarded" box for it.
    discard = DISCARD_REASONS.get(contact.reason) if contact.reason in ERROR_CODES else None
    context = {
        "contact": contact,
        "timeline": lists.timeline(contact),
        "resubmission": getattr(contact, "resubmission", None),
        "discard": discard,
        "estimated_wait": format_wait(contact.estimated_wait),
        "age": format_age((timezone.now() - contact.created_at).total_seconds()),
        "discard_reasons": {code: {"cause": r.cause, "fix": r.fix} for code, r in DISCARD_REASONS.items()
                            if code in ERROR_CODES},
        **live_page(request, last_id, contact=contact.public_id),
    }
    context.update(detail_context(request, contact, context["timeline"]))
    return render(request, "contacts/detail.html", context)


@require_GET
@dashboard_page
def export_csv(request: HttpRequest) -> HttpResponse:
    """The filtered contact list as CSV, streamed by an async iterator so Daphne sends it chunk by chunk."""
    form = ContactFilterForm(request.GET, list(Feed.objects.all()))
    if not form.is_valid():
        return JsonResponse({"error": "bad request", "fields": form.errors}, status=400)
    contacts = filter_contacts(form.filters())
    response = StreamingHttpResponse(export.csv_chunks(contacts), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="contacts-{stamp}.csv"'
    return response


@dashboard_json
def chart_data(request: HttpRequest) -> HttpResponse:
    return JsonResponse(charts.hour_series())
