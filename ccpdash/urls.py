"""Top-level URL configuration: the admin, authentication, and the contacts app (API, dashboard, alerts, workflows)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("contacts.urls")),
]

# What a middleware raises reaches only this handler: an outage (no database connection in time) is a 503.
handler500 = "ccpdash.failures.server_error"
# The CCP API's paths answer <ApiErrors> for a path no route matches, as for an unknown id.
handler404 = "ccpdash.failures.page_not_found"
# A page refused to its user is the site's 403 page; the API's paths keep Django's answer.
handler403 = "ccpdash.failures.permission_denied"
