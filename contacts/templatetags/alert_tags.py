"""Template filters of the alert list (formatting only: the data comes from the page's view)."""

from __future__ import annotations

from datetime import datetime

from django import template

register = template.Library()


@register.filter
def iso_time(value: str) -> datetime | None:
    """An ISO 8601 string of the alert format as a datetime, for the `time`/`date` filters."""
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
