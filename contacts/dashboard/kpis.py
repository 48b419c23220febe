"""The KPI panel: the figures a supervisor reads first, per MRD and in total, coloured by the admin's thresholds.

Every number is the figure catalogue's (`contacts.figures.catalogue`), computed by `compute.queue_figures`,
the same function `/metrics` reads: the panel adds only presentation — the catalogue's label and unit,
the text a person reads ("1m 05s", "92 %"), the link behind the figure, and a level:

    "ok"     no threshold set, or the figure is within it
    "amber"  at or past the amber level of the MRD's `QueueAlertRule` (warn_queued, warn_oldest_seconds,
             service level below service_level_warn)
    "red"    past the alert threshold (max_queued, max_oldest_seconds: where the queue alert is raised),
             or the service level below service_level_goal

A total's level is the worst of its MRDs' (a contact center is amber when one of its queues is). The
colours apply whether or not the rule's alerts are enabled: the rule's `enabled` switches the alerts.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.urls import reverse

from contacts.alerts.models import QueueAlertRule
from contacts.core.formats import format_age, format_wait
from contacts.figures import catalogue, compute
from contacts.figures.catalogue import BY_KEY, TOTAL, UNKNOWN_MRD

# The panel's figures, in reading order (each a key of the catalogue).
KEYS = ("waiting", "longest_wait", "service_level", "handled", "discarded", "cancelled", "ready_agents",
        "free_slots", "estimated_wait")
# The total row's own figure: the throttle backlog belongs to no MRD.
TOTAL_KEYS = (*KEYS, "backlog")
LEVELS = ("ok", "amber", "red")

# The catalogue's UNKNOWN_MRD: contacts not submitted yet, refused before the CCE knew an MRD, or naming an MRD
# id the configuration lacks (the state tables split it into "not yet submitted" and "MRD not configured").
UNKNOWN_LABEL = "No configured MRD"


def panel(now: datetime, names: dict[int, str]) -> dict:
    """The tiles' and the table's data: the figures' descriptions, a row per MRD, the unknown bucket, the total."""
    rows = compute.queue_figures(now)
    rules = {rule.mrd_id: rule for rule in QueueAlertRule.objects.all()}
    mrd_rows = [_row(mrd_id, f"MRD {mrd_id}", names.get(mrd_id, ""), values, rules.get(mrd_id))
                for mrd_id, values in rows.items() if isinstance(mrd_id, int)]
    unknown = rows[UNKNOWN_MRD]
    if any(unknown[key] for key in ("waiting", "handled", "discarded", "cancelled")):
        # Shown only when something counts there.
        mrd_rows.append(_row(UNKNOWN_MRD, UNKNOWN_LABEL, "", unknown, None))
    total = _row(TOTAL, "All queues", "", rows[TOTAL], None, keys=TOTAL_KEYS)
    for key in KEYS:
        worst = max((LEVELS.index(row["figures"][key]["level"]) for row in mrd_rows), default=0)
        total["figures"][key]["level"] = LEVELS[worst]
    return {
        "figures": [_describe(BY_KEY[key]) for key in TOTAL_KEYS],
        "rows": mrd_rows,
        "total": total,
    }


def _describe(figure: catalogue.Figure) -> dict:
    return {"key": figure.key, "label": figure.label, "unit": figure.unit, "window": figure.window.label,
            "counts": figure.counts}


def _row(bucket, label: str, name: str, values: dict, rule: QueueAlertRule | None, keys=KEYS) -> dict:
    return {
        "mrd": bucket,
        "label": label,
        "name": name,
        "figures": {key: _figure(key, values, bucket, rule) for key in keys},
    }


def _figure(key: str, values: dict, bucket, rule: QueueAlertRule | None) -> dict:
    value = values[key]
    figure = {"value": value, "text": text(key, value), "level": level(key, value, rule), "url": None}
    if key == "longest_wait" and values.get("longest_wait_contact"):
        figure["url"] = reverse("dashboard-contact", args=[values["longest_wait_contact"]])
    elif key in LIST_FILTERS:
        figure["url"] = contacts_url(bucket, **LIST_FILTERS[key])
    return figure


# The contact list behind a figure, in the list's own filters. The list filters on contacts' positions now
# and their creation time, so a count of today's moves links to the contacts in that position created in
# the last 24 hours: the ones to look at, not a recount.
LIST_FILTERS = {
    "waiting": {"state": "queued"},
    "handled": {"state": "handled", "window": "24h"},
    "discarded": {"state": "discarded", "window": "24h"},
    "backlog": {"state": "unread"},
}


def contacts_url(bucket, **filters: str) -> str:
    """The contact list with `filters`, of the MRD `bucket` when it is one (the unknown bucket has no filter)."""
    if isinstance(bucket, int):
        filters["mrd"] = str(bucket)
    return f"{reverse('dashboard-contacts')}?{urlencode(filters)}"


def text(key: str, value) -> str:
    """The figure as a person reads it."""
    unit = BY_KEY[key].unit
    if value is None:
        return "—"
    if key == "estimated_wait":
        return format_wait(value)
    if unit == "seconds":
        return format_age(value)
    if unit == "ratio":
        return f"{round(value * 100)} %"
    return f"{value:,}"


def level(key: str, value, rule: QueueAlertRule | None) -> str:
    """ok, amber or red against the MRD's thresholds (see the module's docstring)."""
    if rule is None or value is None:
        return "ok"
    if key == "waiting":
        return _above(value, rule.warn_queued, rule.max_queued)
    if key == "longest_wait":
        return _above(value, rule.warn_oldest_seconds, rule.max_oldest_seconds)
    if key == "service_level":
        percent = value * 100
        if rule.service_level_goal and percent < rule.service_level_goal:
            return "red"
        if rule.service_level_warn and percent < rule.service_level_warn:
            return "amber"
    return "ok"


def _above(value: float, amber: int, red: int) -> str:
    """Red above the alert threshold (the queue alert's own comparison), amber from the amber level."""
    if red and value > red:
        return "red"
    if amber and value >= amber:
        return "amber"
    return "ok"
