"""URLs of the CCP-compatible API (spec §4): both path families, and the /try/ demo page.

The current family lives under /ccp/rest/, the SocialMiner-era one under /ccp/ (and /ccp-webapp/ccp/); their
OpenAPI document and the documentation page are under /api/.
No API route ends in a slash; one sent with a trailing slash is served as well, so CommonMiddleware's
APPEND_SLASH never redirects an API call (a redirect would turn a POST into a GET).
"""

from __future__ import annotations

from django.urls import URLPattern, path, re_path

from contacts.core.lifecycle import Kind

from . import described, views

FEED = r"(?P<feed_id>[^/]+)"
CONTACT = r"(?P<contact_id>[^/]+)"


def _api(pattern: str, view, name: str, **kwargs: str) -> URLPattern:
    return re_path(rf"^{pattern}/?$", view, kwargs=kwargs, name=f"api-{name}")


def _family(prefix: str, family: str) -> list[URLPattern]:
    routes = []
    for kind in (Kind.TASK.value, Kind.CALLBACK.value):
        routes += [
            _api(rf"{prefix}{kind}/feed/{FEED}", views.create_contact, f"{family}-{kind}-feed",
                 kind=kind, family=family),
            _api(rf"{prefix}{kind}/contact/{CONTACT}", views.contact_status, f"{family}-{kind}-contact",
                 kind=kind, family=family),
        ]
    return routes


urlpatterns = [
    _api(rf"ccp/rest/task/{CONTACT}/renotify", views.renotify_task, "rest-task-renotify"),
    _api(rf"ccp-webapp/ccp/task/{CONTACT}/renotify", views.renotify_task, "webapp-task-renotify"),
    _api(rf"ccp/rest/socialcontact/{CONTACT}", views.social_contact, "rest-socialcontact"),
    _api(rf"ccp-webapp/ccp/socialcontact/{CONTACT}", views.social_contact, "webapp-socialcontact"),
    *_family("ccp/rest/", "rest"),
    *_family("ccp/", "sm"),
    path("try/", views.try_page, name="api-try"),
    # The documents (contacts.api.openapi) and the page that shows them; under /api/, outside the CCP paths.
    path("api/ccp/openapi.json", described.ccp_openapi_json, name="api-ccp-openapi-json"),
    path("api/ccp/openapi.yaml", described.ccp_openapi_yaml, name="api-ccp-openapi-yaml"),
    path("api/docs", described.api_docs, name="api-docs"),
]
