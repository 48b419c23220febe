"""The events endpoint: committed events after an id, for a live page that reconnects or sees a gap."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from contacts.core.permissions import dashboard_json

from . import resync
from .broadcast import latest_transition_id


class EventsQuery(forms.Form):
    after = forms.IntegerField()  # below 0 means from the start: a page subtracts its window blindly
    limit = forms.IntegerField(min_value=1, max_value=resync.EVENTS_MAX, required=False)
    contact = forms.CharField(max_length=32, required=False)


@dashboard_json
def events(request: HttpRequest) -> HttpResponse:
    """Events after an id, in id order, in the broadcast's format; `next` continues while there are more."""
    query = EventsQuery(request.GET)
    if not query.is_valid():
        return JsonResponse({"error": "bad request", "fields": query.errors}, status=400)
    limit = query.cleaned_data["limit"] or resync.EVENTS_PAGE
    contact = query.cleaned_data["contact"]
    last_id = latest_transition_id()
    items, more_after = resync.events_after(max(0, query.cleaned_data["after"]), limit, contact)
    next_url = None
    if more_after is not None:
        params = {"after": more_after, "limit": limit, **({"contact": contact} if contact else {})}
        next_url = f"{reverse('dashboard-events')}?{urlencode(params)}"
    return JsonResponse({"events": items, "next": next_url, "last_id": last_id})
