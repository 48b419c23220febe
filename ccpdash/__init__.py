"""ccpdash project package: settings, URL and ASGI wiring, and the Celery app."""

from .celery import app as celery_app

__all__ = ["celery_app"]
