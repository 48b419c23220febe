"""URLs of the wall board (names prefixed `wall-`)."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("wall/", views.wall, name="wall-board"),
    path("wall/data", views.wall_data, name="wall-data"),
]
