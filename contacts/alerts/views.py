"""Views of alerts: the alert feed (resync) and acknowledging; JSON for alerts.js.

Acknowledging also works as a plain HTML form post (the alert list's buttons without JavaScript):
it then redirects back instead of answering JSON.
"""

from __future__ import annotations

import re

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme

from contacts.core.permissions import ACKNOWLEDGE_ALERT, dashboard_json, json_action

from . import feed as alert_feed
from .discards import ack_json

ALERT_KEY = re.compile(r"^[dq]\d{1,18}$")


class FeedQuery(forms.Form):
    """Cursors below 0 mean from the start: a page subtracts its window blindly."""

    discards = forms.IntegerField(required=False)
    queue = forms.IntegerField(required=False)
    acks = forms.IntegerField(required=False)
    open = forms.RegexField(regex=r"^\d{1,18}(,\d{1,18})*$", required=False, help_text="Queue alert ids held open.")
    limit = forms.IntegerField(min_value=1, max_value=alert_feed.FEED_PAGE, required=False)

    def cursors(self) -> alert_feed.Cursors:
        data = self.cleaned_data
        return alert_feed.Cursors(**{name: max(0, data.get(name) or 0) for name in alert_feed.SEQUENCES})

    def open_ids(self) -> list[int]:
        raw = self.cleaned_data.get("open") or ""
        return [int(part) for part in raw.split(",") if part][: alert_feed.OPEN_MAX]


@dashboard_json
def feed(request: HttpRequest) -> HttpResponse:
    """Alerts and acknowledgements after the page's cursors (the alert format of contacts.alerts.discards)."""
    query = FeedQuery(request.GET)
    if not query.is_valid():
        return JsonResponse({"error": "bad request", "fields": query.errors}, status=400)
    limit = query.cleaned_data["limit"] or alert_feed.FEED_PAGE
    return JsonResponse(alert_feed.feed(query.cursors(), query.open_ids(), limit))


class AlertKeys(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        return [str(item) for item in value or []]

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        if len(value) > alert_feed.ACK_MAX:
            raise forms.ValidationError(f"At most {alert_feed.ACK_MAX} alerts at once.")
        if not all(ALERT_KEY.match(item) for item in value):
            raise forms.ValidationError("Not an alert.")


class AckForm(forms.Form):
    """Either the alerts by key, or `all` with the newest ids the page has seen (nothing newer is acknowledged)."""

    alert = AlertKeys(required=False)
    all = forms.BooleanField(required=False)
    discards_upto = forms.IntegerField(min_value=0, required=False)
    queue_upto = forms.IntegerField(min_value=0, required=False)
    next = forms.CharField(required=False)

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("alert") and not data.get("all"):
            raise forms.ValidationError("Name the alerts to acknowledge.")
        return data


@json_action(ACKNOWLEDGE_ALERT)
def acknowledge(request: HttpRequest) -> HttpResponse:
    form = AckForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": "bad request", "fields": form.errors}, status=400)
    data = form.cleaned_data
    if data["all"]:
        upto = alert_feed.Cursors(discards=data["discards_upto"] or 0, queue=data["queue_upto"] or 0)
        acks = alert_feed.acknowledge_all(request.user, upto)
    else:
        acks = alert_feed.acknowledge(request.user, data["alert"])
    if "application/json" not in request.headers.get("Accept", ""):
        target = data["next"] or "/#alerts"
        safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
        # A URL, never a view name: redirect() would look `next` up as one and fail on any other word.
        return HttpResponseRedirect(target if safe else "/#alerts")
    body = {"acks": [ack_json(ack) for ack in acks], "unacknowledged": alert_feed.unacknowledged()}
    return JsonResponse(body)

