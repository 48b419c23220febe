"""Template filters of the dashboard's pages (formatting only: the data comes from the page's view)."""

from __future__ import annotations

from datetime import datetime

from django import template

from contacts.core.formats import reason_name as plain_reason_name

register = template.Library()


@register.filter
def iso_time(value: str) -> datetime | None:
    """An ISO 8601 string of the alert format as a datetime, for the `time`/`date` filters."""
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@register.filter
def reason_name(code: str) -> str:
    """The plain name of a reason code ("Routing disabled"); the templates put the code in its tooltip."""
    return plain_reason_name(code or "")
