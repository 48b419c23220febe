"""Queue alerts (contacts.alerts.queues): raised when a queue crosses its rule, cleared when back under."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.alerts import queues as queue_alerts
from contacts.alerts.models import QueueAlert, QueueAlertRule, QueueMetric
from contacts.core import lifecycle
from contacts.core.lifecycle import Reason, Source
from tests.alerts.support import ack, feed_of, queue_up


@pytest.mark.django_db
class QueueAlertTests:
    def test_it_raises_once_when_the_queue_crosses_its_maximum_and_clears_when_back_under(self):
        QueueAlertRule.objects.create(mrd_id=5000, max_queued=2)
        contacts = queue_up(2)
        assert queue_alerts.check() == []
        contacts += queue_up(1)
        (alert,) = queue_alerts.check()
        assert (alert.metric, alert.value, alert.threshold, alert.cleared_at) == (QueueMetric.QUEUED, 3, 2, None)
        assert queue_alerts.check() == []  # still crossed: the same alert stays open
        lifecycle.transition(contacts[0], "reserved", Reason.EXTERNALLY_ROUTED, source=Source.CCE)
        (cleared,) = queue_alerts.check()
        assert cleared.pk == alert.pk and QueueAlert.objects.get().cleared_at is not None
        queue_up(1)
        (again,) = queue_alerts.check()
        assert again.pk != alert.pk and QueueAlert.objects.count() == 2

    def test_it_raises_when_the_oldest_contact_waits_too_long(self, sup_client):
        QueueAlertRule.objects.create(mrd_id=5000, max_oldest_seconds=60)
        queue_up(1, age=timedelta(seconds=30))
        assert queue_alerts.check() == []
        queue_up(1, age=timedelta(minutes=3))
        (alert,) = queue_alerts.check()
        assert alert.metric == QueueMetric.OLDEST and alert.value >= 180
        (listed,) = feed_of(sup_client)["alerts"]
        assert (listed["code"], listed["group"]) == ("QUEUE_MAX_OLDEST", "QUEUE_MAX_OLDEST in MRD 5000")
        assert listed["contact"] is None
        assert listed["cause"].startswith("The oldest contact in MRD 5000 Chat waited 3m")
        assert listed["link"]["url"] == "/admin/contacts/agent/?mrd__id__exact=5000"

    def test_it_clears_open_alerts_when_the_rule_is_disabled_or_deleted(self):
        rule = QueueAlertRule.objects.create(mrd_id=5000, max_queued=1)
        queue_up(2)
        queue_alerts.check()
        rule.enabled = False
        rule.save()
        assert len(queue_alerts.check()) == 1
        rule.enabled = True
        rule.save()
        queue_alerts.check()
        rule.delete()
        assert len(queue_alerts.check()) == 1 and not QueueAlert.objects.filter(cleared_at__isnull=True).exists()

    def test_it_keeps_one_open_alert_per_mrd_and_metric_in_the_database(self):
        QueueAlert.objects.create(mrd_id=5000, metric=QueueMetric.QUEUED, threshold=1, value=2)
        assert queue_alerts.raise_alert(5000, QueueMetric.QUEUED, 1, 3, timezone.now()) == []
        with pytest.raises(IntegrityError), transaction.atomic():
            QueueAlert.objects.create(mrd_id=5000, metric=QueueMetric.QUEUED, threshold=1, value=2)

    def test_it_makes_queue_alerts_acknowledgeable_and_counted(self, sup_client):
        QueueAlertRule.objects.create(mrd_id=5000, max_queued=1)
        queue_up(2)
        (alert,) = queue_alerts.check()
        assert feed_of(sup_client)["unacknowledged"] == 1
        body = ack(sup_client, f"q{alert.pk}").json()
        assert body["acks"][0]["alert"] == f"q{alert.pk}" and body["unacknowledged"] == 0

    def test_it_asks_for_a_threshold_in_the_admin(self):
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError):
            QueueAlertRule(mrd_id=5000).full_clean()
