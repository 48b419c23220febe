"""The read API's routes with their real views: what the site's lazily loaded views call, and what drf-spectacular
walks to generate the document (`contacts.readapi.urls` says why the site does not mount these directly)."""

from __future__ import annotations

from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views
from .urls import API_ROUTES, pattern

VIEWS = {
    "figures": views.figures,
    "queues": views.queues,
    "contacts": views.contacts,
    "contact": views.contact,
    "groups": views.groups,
    "bulk_jobs": views.bulk_jobs,
    "bulk_job": views.bulk_job,
    "audit_log": views.audit_log,
    # JSON first: ?format=yaml for YAML.
    "schema": SpectacularAPIView.as_view(renderer_classes=[OpenApiJsonRenderer, OpenApiYamlRenderer],
                                         urlconf="contacts.readapi.routes"),
    "docs": SpectacularSwaggerSplitView.as_view(url_name="readapi-schema"),
    "not_found": views.not_found,
}

urlpatterns = [pattern(route, regex, VIEWS[key], name) for route, regex, key, name in API_ROUTES]
