"""URLs of the read API under /api/v1/ (names prefixed `readapi-`), its OpenAPI schema and docs page, and the
token page at /account/tokens.

Every process loads the site's URLconf (a worker too, to build links), so the API's routes are mounted here with
views that load `contacts.readapi.routes` (Django REST framework, drf-spectacular, the serializers) on their first
request: about 13 MB a process that never answers the API does not pay. `routes` builds the same table with the
real views, which is what drf-spectacular walks to generate the document.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, re_path

from . import pages

# (route, whether it is a regular expression, the view's key in `routes.VIEWS`, URL name).
API_ROUTES: list[tuple[str, bool, str, str]] = [
    ("api/v1/figures", False, "figures", "readapi-figures"),
    ("api/v1/queues", False, "queues", "readapi-queues"),
    ("api/v1/contacts", False, "contacts", "readapi-contacts"),
    # Any id: one that is no public id's format is a JSON 404 from the view, not the site's 404 page.
    ("api/v1/contacts/<str:public_id>", False, "contact", "readapi-contact"),
    ("api/v1/alert-groups", False, "groups", "readapi-alert-groups"),
    ("api/v1/bulk-jobs", False, "bulk_jobs", "readapi-bulk-jobs"),
    (r"^api/v1/bulk-jobs/(?P<job_id>[0-9]{1,18})$", True, "bulk_job", "readapi-bulk-job"),
    ("api/v1/audit", False, "audit_log", "readapi-audit"),
    ("api/v1/schema", False, "schema", "readapi-schema"),
    ("api/v1/docs", False, "docs", "readapi-docs"),
    (r"^api/v1/(?P<rest>.*)$", True, "not_found", "readapi-not-found"),
]


def pattern(route: str, regex: bool, view: Callable, name: str) -> URLPattern:
    return (re_path if regex else path)(route, view, name=name)


def loaded_on_first_request(key: str) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        from . import routes

        return routes.VIEWS[key](request, *args, **kwargs)

    # As every DRF view is: CsrfViewMiddleware reads it off the view it resolved, before this one runs, and DRF's
    # session authentication makes its own CSRF check (the API is read-only: GET never needs one).
    view.csrf_exempt = True
    return view


urlpatterns = [
    *(pattern(route, regex, loaded_on_first_request(key), name) for route, regex, key, name in API_ROUTES),
    path("account/tokens", pages.tokens, name="readapi-tokens"),
    path("account/tokens/<int:token_id>/revoke", pages.revoke, name="readapi-token-revoke"),
]
