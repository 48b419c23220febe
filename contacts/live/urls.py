"""URLs of the live path: the events endpoint pages resync from (its name is kept from the dashboard's)."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("events", views.events, name="dashboard-events"),
]
