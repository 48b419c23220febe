"""Queue alerts: each MRD's queue checked against its `QueueAlertRule`, raised and cleared as `QueueAlert` rows.

`check_queue_alerts` (a Celery task that beat runs every few seconds) reads every MRD's queue in one
query and, per rule and metric, raises an alert when the queue crosses the threshold and clears it
when the queue is back under. Both are compare-and-set in the database (a conditional unique index
keeps one open alert per MRD and metric; a clear updates only a row still open), so overlapping
checks never raise twice or clear twice. Each change is broadcast after commit as `alert.queue`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from django.db import IntegrityError, transaction
from django.db.models import Count, Min
from django.utils import timezone

from contacts.cce import queues
from contacts.cce.models import MediaRoutingDomain
from contacts.core.formats import format_age
from contacts.live import broadcast

from .discards import ack_of, admin_url
from .models import QueueAlert, QueueAlertRule
from .models import QueueMetric as Metric

log = logging.getLogger(__name__)

CODES = {Metric.QUEUED: "QUEUE_MAX_QUEUED", Metric.OLDEST: "QUEUE_MAX_OLDEST"}
NAMES = {Metric.QUEUED: "Too many waiting", Metric.OLDEST: "Waiting too long"}
FIX = "Make more agents ready in the MRD, or give them more slots."


def queue_readings(mrd_ids: list[int], now: datetime) -> dict[int, dict[str, int]]:
    """Per MRD: contacts in its queue and the age in seconds of the oldest of them; one GROUP BY."""
    rows = (
        queues.in_queue()
        .filter(cce_mrd_id__in=mrd_ids)
        .order_by()
        .values("cce_mrd_id")
        .annotate(n=Count("id"), oldest=Min("created_at"))
    )
    readings = {mrd_id: {Metric.QUEUED: 0, Metric.OLDEST: 0} for mrd_id in mrd_ids}
    for row in rows:
        age = max(0, int((now - row["oldest"]).total_seconds()))
        readings[row["cce_mrd_id"]] = {Metric.QUEUED: row["n"], Metric.OLDEST: age}
    return readings


def thresholds(rule: QueueAlertRule) -> dict[str, int]:
    """The rule's active thresholds by metric (0 = off; a disabled rule has none)."""
    if not rule.enabled:
        return {}
    limits = {Metric.QUEUED: rule.max_queued, Metric.OLDEST: rule.max_oldest_seconds}
    return {metric: limit for metric, limit in limits.items() if limit}


def check(now: datetime | None = None) -> list[QueueAlert]:
    """Raise what crossed, clear what is back under (or lost its rule); returns the alerts that changed."""
    now = now or timezone.now()
    rules = {rule.mrd_id: thresholds(rule) for rule in QueueAlertRule.objects.all()}
    readings = queue_readings(list(rules), now)
    open_alerts = {(a.mrd_id, a.metric): a for a in QueueAlert.objects.filter(cleared_at__isnull=True)}
    changed = []
    for mrd_id, limits in rules.items():
        for metric, limit in limits.items():
            value = readings[mrd_id][metric]
            if value > limit and (mrd_id, metric) not in open_alerts:
                changed += raise_alert(mrd_id, metric, limit, value, now)
    for (mrd_id, metric), alert in open_alerts.items():
        limit = rules.get(mrd_id, {}).get(metric)
        if limit is None or readings[mrd_id][metric] <= limit:
            changed += clear_alert(alert, now)
    return changed


def raise_alert(mrd_id: int, metric: str, threshold: int, value: int, now: datetime) -> list[QueueAlert]:
    try:
        with transaction.atomic():
            alert = QueueAlert.objects.create(
                mrd_id=mrd_id, metric=metric, threshold=threshold, value=value, raised_at=now
            )
            transaction.on_commit(lambda: send_queue_alert(alert.pk))
    except IntegrityError:
        return []  # an overlapping check raised it first (queue_alert_one_open)
    return [alert]


def clear_alert(alert: QueueAlert, now: datetime) -> list[QueueAlert]:
    with transaction.atomic():
        # Compare-and-set: only a row still open is cleared, so two checks clear (and broadcast) it once.
        if not QueueAlert.objects.filter(pk=alert.pk, cleared_at__isnull=True).update(cleared_at=now):
            return []
        transaction.on_commit(lambda: send_queue_alert(alert.pk))
    alert.cleared_at = now
    return [alert]


def send_queue_alert(alert_id: int) -> None:
    alert = QueueAlert.objects.select_related("acknowledgement__user").filter(pk=alert_id).first()
    if alert is not None:
        broadcast.send(broadcast.DASHBOARD_GROUP, {"type": "alert.queue", "alert": queue_alert_list([alert])[0]})


@shared_task(name="contacts.queue_alerts.check_queue_alerts", ignore_result=True, expires=10)
def check_queue_alerts() -> None:
    """Beat runs this every few seconds; a late run is simply the next check, so it is never retried."""
    check()


# --- the alert format (see contacts.alerts.discards) ----------------------------------------------------------------


def describe(alert: QueueAlert, name: str) -> str:
    where = f"MRD {alert.mrd_id} {name}".strip()
    if alert.metric == Metric.QUEUED:
        return f"{alert.value} contacts queued in {where} (alert above {alert.threshold})."
    waited, limit = format_age(alert.value), format_age(alert.threshold)
    return f"The oldest contact in {where} waited {waited} (alert above {limit})."


def _link(label: str, url) -> dict:
    return {"label": label, "url": url, "perm": url.perm}


def queue_alert(alert: QueueAlert, names: dict[int, str], rules: dict[int, int]) -> dict:
    """The alert of one queue alert row (load it with select_related("acknowledgement__user"))."""
    code = CODES[alert.metric]
    agents = admin_url("agent", "changelist", mrd__id__exact=alert.mrd_id)
    rule = rules.get(alert.mrd_id)
    return {
        "key": alert.key,
        "kind": "queue",
        "id": alert.pk,
        "at": alert.raised_at.isoformat(),
        "code": code,
        "name": NAMES[alert.metric],
        "scope": f"in MRD {alert.mrd_id}",
        "group": f"{code} in MRD {alert.mrd_id}",
        "cause": describe(alert, names.get(alert.mrd_id, "")),
        "fix": FIX,
        "link": {"label": f"Agents of MRD {alert.mrd_id}", "url": agents, "perm": agents.perm},
        "alternative": _link("Alert rule", admin_url("queuealertrule", "change", rule)) if rule else None,
        "contact": None,
        "mrd": alert.mrd_id,
        "cleared_at": alert.cleared_at.isoformat() if alert.cleared_at else None,
        "resolved": alert.cleared_at is not None,  # the queue is back under its threshold
        "ack": ack_of(alert),
    }


def queue_alert_list(alerts: list[QueueAlert]) -> list[dict]:
    mrd_ids = {alert.mrd_id for alert in alerts}
    names = dict(MediaRoutingDomain.objects.filter(pk__in=mrd_ids).values_list("id", "name"))
    rules = dict(QueueAlertRule.objects.filter(mrd_id__in=mrd_ids).values_list("mrd_id", "pk"))
    return [queue_alert(alert, names, rules) for alert in alerts]
