"""URLs of the read API under /api/v1/ (names prefixed `readapi-`), its OpenAPI schema and docs page, and the
token page at /account/tokens."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import pages, views

urlpatterns = [
    path("api/v1/figures", views.figures, name="readapi-figures"),
    path("api/v1/queues", views.queues, name="readapi-queues"),
    path("api/v1/contacts", views.contacts, name="readapi-contacts"),
    # Any id: one that is no public id's format is a JSON 404 from the view, not the site's 404 page.
    path("api/v1/contacts/<str:public_id>", views.contact, name="readapi-contact"),
    path("api/v1/alert-groups", views.groups, name="readapi-alert-groups"),
    path("api/v1/bulk-jobs", views.bulk_jobs, name="readapi-bulk-jobs"),
    re_path(r"^api/v1/bulk-jobs/(?P<job_id>[0-9]{1,18})$", views.bulk_job, name="readapi-bulk-job"),
    path("api/v1/audit", views.audit_log, name="readapi-audit"),
    # JSON first: ?format=yaml for YAML.
    path("api/v1/schema", SpectacularAPIView.as_view(renderer_classes=[OpenApiJsonRenderer, OpenApiYamlRenderer],
                                                     urlconf="contacts.readapi.urls"), name="readapi-schema"),
    path("api/v1/docs", SpectacularSwaggerSplitView.as_view(url_name="readapi-schema"), name="readapi-docs"),
    re_path(r"^api/v1/(?P<rest>.*)$", views.not_found, name="readapi-not-found"),
    path("account/tokens", pages.tokens, name="readapi-tokens"),
    path("account/tokens/<int:token_id>/revoke", pages.revoke, name="readapi-token-revoke"),
]
