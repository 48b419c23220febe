"""Alert groups: the unacknowledged alerts of the horizon by cause and place, for the wall board.

A group is the alerts that share the alert format's `group` key (the code and where: "NOTIFICATION_NO_SCRIPT
in Sales", "QUEUE_MAX_OLDEST in MRD 5000"), with how many are unacknowledged, the newest time and what to
fix. Read from the newest LIST_SIZE alerts of the horizon (`feed.recent`), so the cost is the alert list's
first paint, whatever the day's traffic; a count that reached that cap says so (`capped`). No contact's
name or id is part of a group: the wall board's link grants aggregates only.
"""

from __future__ import annotations

from datetime import datetime

from . import feed


def alert_groups(now: datetime | None = None, limit: int = 12) -> dict:
    """The groups of unacknowledged alerts, the busiest first: at most `limit`, and how many there are in all."""
    alerts = feed.recent(now)
    groups: dict[str, dict] = {}
    for alert in alerts:  # newest first
        if alert["ack"] or alert.get("cleared_at"):
            continue
        group = groups.get(alert["group"])
        if group is None:
            group = groups[alert["group"]] = {
                "group": alert["group"], "kind": alert["kind"], "name": alert["name"], "code": alert["code"],
                "scope": alert["scope"], "fix": alert["fix"], "count": 0, "latest": alert["at"],
            }
        group["count"] += 1
    ordered = sorted(groups.values(), key=lambda g: g["latest"], reverse=True)
    ordered.sort(key=lambda g: -g["count"])  # stable: the busiest first, the newest first among equals
    return {"groups": ordered[:limit], "total": len(ordered), "unacknowledged": sum(g["count"] for g in ordered),
            "capped": len(alerts) >= feed.LIST_SIZE}
