"""URLs of discard and queue alerts (feed, acknowledge) and the dashboard charts' data; names prefixed `alerts-`."""

from __future__ import annotations

from django.urls import path

from . import alert_views

urlpatterns = [
    path("alerts/feed", alert_views.feed, name="alerts-feed"),
    path("alerts/ack", alert_views.acknowledge, name="alerts-ack"),
    path("alerts/charts", alert_views.chart_data, name="alerts-charts"),
]
