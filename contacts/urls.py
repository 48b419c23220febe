"""The contacts app's HTTP routes, one include per package (ccpdash.urls mounts them at the root)."""

from django.urls import include, path, register_converter

from contacts.core import health
from contacts.core.formats import PublicIdConverter

# Before the includes: their patterns name it.
register_converter(PublicIdConverter, "public_id")

urlpatterns = [
    path("", include("contacts.api.urls")),
    path("", include("contacts.dashboard.urls")),
    path("", include("contacts.live.urls")),
    path("", include("contacts.alerts.urls")),
    path("", include("contacts.workflows.urls")),
    path("", include("contacts.metrics.urls")),
    path("", include("contacts.wall.urls")),
    path("", include("contacts.readapi.urls")),
    path("healthz", health.healthz, name="contacts-healthz"),
]
