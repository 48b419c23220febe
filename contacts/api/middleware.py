"""The API abuse guard: 429 + Retry-After per client on the CCP API's paths, once API_RATE_LIMIT_PER_MINUTE is set.

Off by default (0): CCP clients then get the contract's behaviour at any rate (over the CCE's rate the throttle's
backlog, then NOTIFICATION_RATE_LIMITED) and the benchmark is not throttled. The count is in Redis
(contacts.api.throttle), shared by every process, and a request goes on unthrottled while Redis is down.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from ccpdash.failures import is_api
from ccpdash.throttling import client_address

from . import documents, throttle, views


class ApiRateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.API_RATE_LIMIT_PER_MINUTE and is_api(request):
            if wait := throttle.rate_limited(client_address(request)):
                return _too_many_requests(request, wait)
        return self.get_response(request)


def _too_many_requests(request: HttpRequest, wait: int) -> HttpResponse:
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    message = f"more than {limit} requests a minute from this client; retry after {wait} seconds"
    refused = views.refusal(429, documents.TOO_MANY_REQUESTS, "client", message, **{"Retry-After": str(wait)})
    response = views.refused_answer(request, refused)
    add_never_cache_headers(response)
    return response
