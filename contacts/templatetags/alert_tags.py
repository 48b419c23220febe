"""Template filters of the dashboard's pages (formatting only: the data comes from the page's view)."""

from __future__ import annotations

from datetime import datetime

from django import template

from contacts.alerts.discards import followable as link_followable
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


@register.filter
def get_item(mapping: dict, key: str):
    """mapping[key] in a template (the KPI panel's figures are keyed by the catalogue's keys)."""
    return mapping.get(key) if mapping else None


@register.filter
def followable(link: dict | None, perms) -> bool:
    """Whether the page's user (their permission names) may follow an alert's fix link."""
    return link_followable(link, perms)
