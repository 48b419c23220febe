"""URLs of the contacts app."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="contacts-home"),
    path("healthz", views.healthz, name="contacts-healthz"),
]
