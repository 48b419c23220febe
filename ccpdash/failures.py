"""Answers for a request that a service it needs cannot serve right now: 503 with Retry-After, never a 500.

`failed_service()` is the one place that tells an outage (no database connection within the pool's wait,
connecting failed, the server going away) from a bug; `unavailable()` is the one helper that writes the answer:
CCP API clients get `<ApiErrors>` (JSON when they prefer it, as everywhere in the API), pages get
templates/errors/503.html, a static page that needs neither the database nor a session. Two ways lead here:

- a view raised: `FailureMiddleware.process_exception` answers (also with DEBUG on);
- a middleware raised (the session or the user read in a middleware): Django never calls
  process_exception then, it calls `handler500` (`server_error`) inside its `except` block, so
  `sys.exc_info()` still names the exception (under ASGI asgiref carries it into the handler's thread).
  With DEBUG on Django shows its debug page instead.

`page_not_found()` is handler404, split the same way: under the API's paths a 404 is `<ApiErrors>` notFound, also
for a path no route matches (an id with a '/' in it), so a CCP client always gets the document it can read.
`permission_denied()` (handler403) and `csrf_failure()` (CSRF_FAILURE_VIEW) leave the API's paths Django's answer.
Everywhere else the three answer templates/errors/404.html or 403.html: unlike the 500 and 503 pages these are
rendered with the request, in base.html's frame with the signed-in user's navigation, as a refusal is an ordinary
request's answer and the database is there to ask.
"""

from __future__ import annotations

import logging
import sys

import psycopg
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.utils.cache import add_never_cache_headers
from django.utils.deprecation import MiddlewareMixin
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import csrf, defaults
from psycopg_pool import PoolClosed, PoolTimeout, TooManyRequests

from contacts.api import documents
from contacts.api.views import wants_json

logger = logging.getLogger(__name__)

# The CCP API's path families (contacts/api/urls.py); /try/ is a page.
API_PREFIXES = ("/ccp/", "/ccp-webapp/")
# SQLSTATEs that mean "no usable connection": a connection exception (class 08), the server shutting
# down or not accepting connections yet (57P01-57P03), too many connections (53300). No SQLSTATE at all
# is libpq's own failure to connect or to reach the server. Anything else (a deadlock, a cancelled
# statement, a constraint) is a request's own failure, not an outage.
_CONNECTION_STATES = ("08", "57P01", "57P02", "57P03", "53300")
UNAVAILABLE = "serviceUnavailable"


def failed_service(exc: BaseException | None) -> str | None:
    """The service `exc` says is unavailable ("database"), or None when it is no outage.

    Django wraps the driver's errors (django.db.utils.OperationalError), the driver's own cause is
    chained as `__cause__`: the pool's PoolTimeout, or a psycopg error with its SQLSTATE.
    """
    while exc is not None:
        if isinstance(exc, (PoolTimeout, PoolClosed, TooManyRequests)):
            return "database"
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            state = exc.sqlstate
            return "database" if state is None or state.startswith(_CONNECTION_STATES) else None
        exc = exc.__cause__
    return None


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


def unavailable(request: HttpRequest, service: str) -> HttpResponse:
    """503 + Retry-After: `<ApiErrors>` (serviceUnavailable, the service as errorData) or the static page."""
    retry_after = settings.RETRY_AFTER_SECONDS
    if is_api(request):
        message = f"the {service} is busy or unreachable; retry after {retry_after} seconds"
        error = documents.ApiError(UNAVAILABLE, service, message)
        body, content_type = documents.render_errors([error], wants_json(request))
        response = HttpResponse(body, status=503, content_type=content_type)
    else:
        response = _static_page("errors/503.html", 503, retry_after=retry_after)
    response["Retry-After"] = str(retry_after)
    # Neither a proxy nor a browser may keep the answer: the next try should reach the server.
    add_never_cache_headers(response)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: 503 when what is being handled is an outage (also raised in a middleware), else a static 500."""
    exc = sys.exc_info()[1]
    service = failed_service(exc)
    if service:
        logger.warning("%s unavailable for %s: %s", service, request.path, exc)
        return unavailable(request, service)
    if is_api(request):
        error = documents.ApiError("internalError", "server", "the server failed to answer this request")
        body, content_type = documents.render_errors([error], wants_json(request))
        return HttpResponse(body, status=500, content_type=content_type)
    return _static_page("errors/500.html", 500)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: `<ApiErrors>` notFound on the CCP API's paths, the site's 404 page everywhere else."""
    if not is_api(request):
        return _refused_page(request, "errors/404.html", 404)
    error = documents.ApiError("notFound", "path", "there is no such resource here")
    body, content_type = documents.render_errors([error], wants_json(request))
    return HttpResponse(body, status=404, content_type=content_type)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403: the site's 403 page; Django's own answer on the CCP API's paths, as before."""
    if is_api(request):
        return defaults.permission_denied(request, exception)
    return _refused_page(request, "errors/403.html", 403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the site's 403 page saying the form was not accepted; Django's view on the API's paths."""
    if is_api(request):
        return csrf.csrf_failure(request, reason)
    return _refused_page(request, "errors/403.html", 403, csrf=True, reason=reason if settings.DEBUG else "")


def _refused_page(request: HttpRequest, template: str, status: int, **context: object) -> HttpResponse:
    return render(request, template, {"status": status, "back": _back_link(request), **context}, status=status)


def _back_link(request: HttpRequest) -> str:
    """The page that linked here, when it is one of this site's others: "back" is then a link, no script needed."""
    referer = request.headers.get("Referer", "")
    if not referer or referer == request.build_absolute_uri():
        return ""
    same_site = url_has_allowed_host_and_scheme(referer, {request.get_host()}, require_https=request.is_secure())
    return referer if same_site else ""


def _static_page(template: str, status: int, **context: object) -> HttpResponse:
    # Rendered without the request, so no context processor runs: no user, no session, no database.
    return HttpResponse(loader.render_to_string(template, context), status=status)


class FailureMiddleware(MiddlewareMixin):
    """Turns a view's outage (no database connection within DB_POOL_TIMEOUT ...) into `unavailable()`."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        service = failed_service(exception)
        if service is None:
            return None
        logger.warning("%s unavailable for %s: %s", service, request.path, exception)
        return unavailable(request, service)
