"""Rule evaluation: a burst is one message and its resolution one more; thresholds, growth, mute, quiet hours,
queue thresholds and the CCE connection."""

from __future__ import annotations

from datetime import time, timedelta

from django.utils import timezone

from contacts.alerts import queues as queue_alerts
from contacts.alerts.models import QueueAlertRule
from contacts.cce.models import CceSettings
from contacts.core.lifecycle import Reason, Source
from contacts.notify import rules
from contacts.notify.models import (
    NotificationDelivery,
    NotificationRule,
    NotificationRuleState,
    RuleKind,
    in_quiet_hours,
)
from contacts.workflows import actions
from tests.alerts.support import discards, queue_up
from tests.notify.support import check_later, deliver_due, later, types_sent

GROUP = "NOTIFICATION_NO_SCRIPT in NoScript"


def resubmit(rows) -> None:
    for row in rows:
        actions.renotify(row.contact, source=Source.ADMIN)


def watching(rule: NotificationRule, kind: str) -> NotificationRule:
    rule.kind = kind
    rule.save()
    return rule


class DiscardRuleTests:
    def test_it_makes_one_message_of_a_burst_of_20_and_one_of_its_resolution(self, rule, receiver):
        burst = discards(20)
        assert check_later() == 1
        assert check_later() == 0  # said already
        deliver_due()
        [opened] = [r.json() for r in receiver.taken]
        assert (opened["type"], opened["count"], opened["subject"]) == ("discards.opened", 20, GROUP)
        assert opened["title"].startswith("20 × ")
        assert opened["url"].startswith("http://127.0.0.1:8000/contacts/bulk/resubmit?")
        resubmit(burst)
        assert check_later() == 1
        deliver_due()
        assert types_sent(receiver) == ["discards.opened", "discards.resolved"]

    def test_it_holds_a_burst_until_it_settles(self, rule, settings):
        settings.NOTIFY_SETTLE_SECONDS = 30
        discards(3)
        assert rules.check() == 0
        assert NotificationRuleState.objects.get(rule=rule, subject=GROUP).held_since is not None
        assert check_later(31) == 1

    def test_it_sends_a_burst_that_never_pauses_after_the_longest_hold(self, rule, settings):
        settings.NOTIFY_SETTLE_SECONDS, settings.NOTIFY_MAX_HOLD_SECONDS = 3600, 10
        discards(2)
        rules.check()
        assert rules.check(timezone.now() + timedelta(seconds=11)) == 1

    def test_it_waits_for_n_open_discards(self, rule):
        rule.threshold = 5
        rule.save()
        discards(3)
        assert check_later() == 0
        discards(2)
        assert check_later() == 1
        assert NotificationDelivery.objects.get().payload["count"] == 5

    def test_it_tells_again_when_an_open_group_doubles(self, rule):
        discards(2)
        check_later()
        discards(1)
        assert check_later() == 0
        discards(1)
        assert check_later() == 1
        grown = NotificationDelivery.objects.order_by("id").last().payload
        assert (grown["type"], grown["count"]) == ("discards.grown", 4)
        assert grown["title"].endswith("(was 2)")

    def test_it_keeps_groups_apart(self, rule):
        discards(2)
        discards(2, Reason.INVALID_SCRIPT_SELECTOR, selector="NoSuchSelector")
        assert check_later() == 2

    def test_it_says_nothing_of_the_resolution_when_told_not_to(self, rule):
        rule.notify_resolved = False
        rule.save()
        burst = discards(2)
        check_later()
        resubmit(burst)
        assert check_later() == 0
        assert not NotificationRuleState.objects.get(rule=rule, subject=GROUP).open

    def test_it_does_not_send_one_event_twice_from_overlapping_checks(self, rule):
        discards(2)
        check_later()
        reading = rules.read_discards(later()).subjects[GROUP]
        # A second check that read the state before the first one recorded it: the compare-and-set refuses it.
        assert rules.evaluate(rule, GROUP, reading, None, later()) == 0
        assert NotificationDelivery.objects.count() == 1


class SilenceTests:
    def test_it_sends_nothing_while_muted(self, rule, receiver):
        rule.muted_until = timezone.now() + timedelta(hours=1)
        rule.save()
        discards(20)
        assert rules.check(timezone.now() + timedelta(minutes=5)) == 0
        assert NotificationDelivery.objects.count() == 0

    def test_it_catches_up_in_one_message_once_the_mute_ends(self, rule):
        rule.muted_until = timezone.now() + timedelta(minutes=1)
        rule.save()
        discards(5)
        assert check_later(120) == 1

    def test_it_sends_nothing_in_quiet_hours(self, rule):
        now = timezone.localtime(later())
        rule.quiet_from = (now - timedelta(hours=1)).time()
        rule.quiet_until = (now + timedelta(hours=1)).time()
        rule.save()
        discards(2)
        assert check_later() == 0

    def test_it_knows_quiet_hours_across_midnight(self):
        start, end = time(22), time(7)
        assert in_quiet_hours(time(23, 30), start, end)
        assert in_quiet_hours(time(6, 59), start, end)
        assert not in_quiet_hours(time(7), start, end)
        assert not in_quiet_hours(time(12), start, end)
        assert not in_quiet_hours(time(12), None, end)


class QueueRuleTests:
    def test_it_tells_a_crossed_threshold_and_its_clearing(self, rule):
        watching(rule, RuleKind.QUEUE)
        QueueAlertRule.objects.update_or_create(mrd_id=5000, defaults={"max_queued": 2, "enabled": True})
        queue_up(3)
        queue_alerts.check()
        assert check_later() == 1
        crossed = NotificationDelivery.objects.get().payload
        assert (crossed["type"], crossed["subject"]) == ("queue.crossed", "QUEUE_MAX_QUEUED in MRD 5000")
        assert "3 contacts queued" in crossed["text"]
        QueueAlertRule.objects.filter(mrd_id=5000).update(max_queued=10)
        queue_alerts.check()
        assert check_later() == 1
        assert NotificationDelivery.objects.order_by("id").last().event == "queue.resolved"


class ConnectionRuleTests:
    def test_it_tells_a_lost_connection_and_its_return(self, rule):
        watching(rule, RuleKind.CONNECTION)
        assert check_later() == 0
        CceSettings.objects.update(connection_up=False)
        assert check_later() == 1
        assert check_later() == 0
        CceSettings.objects.update(connection_up=True)
        assert check_later() == 1
        assert [d.event for d in NotificationDelivery.objects.order_by("id")] == [
            "connection.lost", "connection.restored"
        ]


class CheckTests:
    def test_it_reads_nothing_without_an_active_rule(self, rule, django_assert_num_queries):
        rule.enabled = False
        rule.save()
        with django_assert_num_queries(1):
            assert rules.check() == 0
