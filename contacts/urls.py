"""URLs of the dashboard (names prefixed `dashboard-`) and the health check."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="dashboard-home"),
    path("overview", views.overview_json, name="dashboard-overview"),
    path("events", views.events, name="dashboard-events"),
    path("contacts/", views.contact_list, name="dashboard-contacts"),
    path("contacts/<str:public_id>", views.contact_detail, name="dashboard-contact"),
    path("healthz", views.healthz, name="contacts-healthz"),
]
