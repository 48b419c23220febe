"""Counts and times every request Django answers, by URL name, method and status (contacts.metrics.instruments)."""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponse

from . import instruments


class RequestMetricsMiddleware:
    """Labels a request with the name of the URL pattern it matched ("api-rest-task-contact"), never its path: a
    path carries ids, and one series per contact would grow the scrape with the traffic."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        # resolver_match is set once the URL resolved, which is after this middleware passed the request on.
        match = getattr(request, "resolver_match", None)
        instruments.observe_request(match.view_name if match else None, request.method or "", response.status_code,
                                    time.perf_counter() - started)
        return response
