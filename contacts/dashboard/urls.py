"""URLs of the dashboard's pages and their JSON (names prefixed `dashboard-`; the charts' and the export's kept)."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="dashboard-home"),
    path("overview", views.overview_json, name="dashboard-overview"),
    path("contacts/", views.contact_list, name="dashboard-contacts"),
    path("contacts/<public_id:public_id>", views.contact_detail, name="dashboard-contact"),
    path("alerts/charts", views.chart_data, name="alerts-charts"),
    # Not /contacts/export.csv: contacts/<public_id:public_id> above would read it as a contact's id.
    path("contacts.csv", views.export_csv, name="workflows-export"),
]
