"""Top-level URL configuration: the CCP API, the admin, authentication, the dashboard and its workflows."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("contacts.api_urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("contacts.urls")),
    path("", include("contacts.alert_urls")),
    path("", include("contacts.workflow_urls")),
]
