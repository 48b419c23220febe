"""Alert groups: the alerts of the horizon by cause and place, each with one acknowledgement and its own resolution.

A group is the alerts that share the alert format's `group` key (the code and where: "NOTIFICATION_NO_SCRIPT
in Sales", "QUEUE_MAX_OLDEST in MRD 5000"). Per group:

    count            its alerts
    unacknowledged   those nobody acknowledged; `keys` names them (the group's one Acknowledge sends them)
    open             those not resolved: a discard whose contact is still at it (not resubmitted, handled,
                     discarded again or purged), a queue alert not cleared (`discards.is_resolved`)
    status           "resolved" (nothing open: the group closed itself, for everybody), "acknowledged"
                     (open, every alert acknowledged), "new since acknowledged" (some acknowledged, then
                     `unacknowledged` more came), or "open"

Read from the newest LIST_SIZE alerts of the horizon (`feed.recent`), so the cost is the alert list's first
paint whatever the day's traffic; `capped` says when that cap was reached. Computed once per snapshot
interval for every page and wall board (contacts.dashboard.snapshots, `alerts.groups`). A group names no
contact: the wall board's link grants aggregates only. The fix link carries the permission it needs, and
each page shows it only to those who have it.
"""

from __future__ import annotations

from datetime import datetime

from . import feed
from .discards import resubmit_offer

RESOLVED, ACKNOWLEDGED, NEW_SINCE_ACK, OPEN = "resolved", "acknowledged", "new since acknowledged", "open"
KEYS_MAX = feed.ACK_MAX


def alert_groups(now: datetime | None = None, limit: int = 12, alerts: list[dict] | None = None) -> dict:
    """The groups, open ones first (the busiest first), then the resolved; at most `limit`, and totals.

    `alerts`: the newest alerts of the horizon when the caller has read them already (the home page's list).
    """
    alerts = feed.recent(now) if alerts is None else alerts
    groups: dict[str, dict] = {}
    for alert in alerts:  # newest first: the first of a group stands for it
        group = groups.get(alert["group"])
        if group is None:
            group = groups[alert["group"]] = {
                "group": alert["group"], "kind": alert["kind"], "name": alert["name"], "code": alert["code"],
                "scope": alert["scope"], "fix": alert["fix"], "link": alert["link"], "latest": alert["at"],
                "count": 0, "unacknowledged": 0, "open": 0, "keys": [], "resubmit": _resubmit_url(alert),
            }
        group["count"] += 1
        group["open"] += not alert.get("resolved")
        if not alert["ack"]:
            group["unacknowledged"] += 1
            if len(group["keys"]) < KEYS_MAX:
                group["keys"].append(alert["key"])
    for group in groups.values():
        group["status"] = status_of(group)
    ordered = sorted(groups.values(), key=lambda g: g["latest"], reverse=True)
    ordered.sort(key=lambda g: (g["status"] == RESOLVED, -g["open"]))  # stable: the newest first among equals
    live = [g for g in ordered if g["status"] != RESOLVED]
    return {
        "groups": ordered[:limit],
        "total": len(ordered),
        "open": len(live),
        "unacknowledged": sum(g["unacknowledged"] for g in live),
        "capped": len(alerts) >= feed.LIST_SIZE,
    }


def status_of(group: dict) -> str:
    if not group["open"]:
        return RESOLVED
    if not group["unacknowledged"]:
        return ACKNOWLEDGED
    if group["unacknowledged"] < group["count"]:
        return NEW_SINCE_ACK
    return OPEN


def _resubmit_url(alert: dict) -> str | None:
    """The bulk resubmit preview of the group's discards (its code and place); none for a queue alert."""
    return resubmit_offer(alert["code"], alert["scope"]) if alert["kind"] == "discard" else None
