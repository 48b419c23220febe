"""How ccpdash writes times and reason codes for people: ages, waits, short reason labels, the day's start.

One definition each, so the pages, the alerts and live.js (which mirrors format_age) read the same.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.conf import settings

from contacts.core.positions import REASON_NAMES


def format_age(seconds: float | None) -> str:
    """'45s', '3m 05s', '2h 07m', '3d 4h': short enough for a wall screen; live.js formats the same way."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def format_wait(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 0:
        return "unknown"
    return "now" if seconds == 0 else format_age(seconds)


def reason_name(reason: str) -> str:
    """"No routing script" for NOTIFICATION_NO_SCRIPT: the plain name of `positions.Reason` (the code goes in a
    tooltip or a column beside it); a code the table does not know (an old row) reads as itself."""
    return REASON_NAMES.get(reason, reason) or "—"


def midnight(now: datetime) -> datetime:
    """The last midnight in settings.TIME_ZONE (the "today" of the counters)."""
    local = now.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


class PublicIdConverter:
    """URL part for a contact's public id (`<public_id:...>`): letters and digits only, at most 32.

    Anything else (a NUL byte, which PostgreSQL refuses in a query, a path of unlimited length) is no
    contact's id: the URL does not match and the answer is 404, with no query made.
    """

    regex = "[0-9A-Za-z]{1,32}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value

