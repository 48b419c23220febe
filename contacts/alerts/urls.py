"""URLs of discard and queue alerts (feed, acknowledge); names prefixed `alerts-`."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("alerts/feed", views.feed, name="alerts-feed"),
    path("alerts/ack", views.acknowledge, name="alerts-ack"),
]
