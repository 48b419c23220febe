"""The notifications' admin: channels with their secret and "Send a test message", rules, the delivery log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from contacts.notify import delivery
from contacts.notify.models import DeliveryStatus, NotificationChannel, NotificationDelivery, NotificationRule
from tests.notify.support import deliver_due
from tests.workflow_support import make_user


@pytest.fixture
def admin_client(client):
    client.force_login(make_user("admin"))
    return client


class ChannelAdminTests:
    def test_it_sends_a_test_message_from_the_change_list(self, admin_client, channel, receiver):
        url = reverse("admin:contacts_notificationchannel_changelist")
        response = admin_client.post(url, {"action": "send_test", "_selected_action": [channel.pk]}, follow=True)
        assert "Test message queued for Ops hook" in response.content.decode()
        assert deliver_due() == [DeliveryStatus.SENT]
        [request] = receiver.taken
        assert request.verified and request.json()["type"] == "test"

    def test_it_shows_the_secret_to_an_admin(self, admin_client, channel):
        response = admin_client.get(reverse("admin:contacts_notificationchannel_change", args=[channel.pk]))
        assert response.status_code == 200
        assert "whsec_test" in response.content.decode()

    def test_it_lets_an_admin_add_a_webhook(self, admin_client):
        response = admin_client.post(reverse("admin:contacts_notificationchannel_add"), {
            "name": "Receiver", "kind": "webhook", "url": "http://127.0.0.1:8099/hook", "emails": "",
            "secret": "whsec_x", "enabled": "on",
        })
        assert response.status_code == 302
        assert NotificationChannel.objects.get(name="Receiver").secret == "whsec_x"

    def test_it_refuses_an_email_channel_without_addresses(self, admin_client):
        response = admin_client.post(reverse("admin:contacts_notificationchannel_add"), {
            "name": "Mail", "kind": "email", "url": "", "emails": "", "secret": "whsec_x", "enabled": "on",
        })
        assert response.status_code == 200
        assert not NotificationChannel.objects.filter(name="Mail").exists()

    def test_it_keeps_notifications_from_supervisors(self, client):
        client.force_login(make_user("supervisor"))
        assert client.get(reverse("admin:contacts_notificationchannel_changelist")).status_code == 403


class RuleAdminTests:
    def test_it_mutes_and_unmutes(self, admin_client, rule):
        url = reverse("admin:contacts_notificationrule_changelist")
        admin_client.post(url, {"action": "mute_for_an_hour", "_selected_action": [rule.pk]})
        assert NotificationRule.objects.get().muted_until is not None
        admin_client.post(url, {"action": "unmute", "_selected_action": [rule.pk]})
        assert NotificationRule.objects.get().muted_until is None

    def test_it_lists_rules_with_their_channels(self, admin_client, rule):
        response = admin_client.get(reverse("admin:contacts_notificationrule_changelist"))
        assert "Ops hook" in response.content.decode()


class DeliveryLogTests:
    def test_it_lists_deliveries_read_only(self, admin_client, channel, receiver):
        receiver.script = ["fail"]
        admin_client.post(reverse("admin:contacts_notificationchannel_changelist"),
                          {"action": "send_test", "_selected_action": [channel.pk]})
        deliver_due()
        row = NotificationDelivery.objects.get()
        listing = admin_client.get(reverse("admin:contacts_notificationdelivery_changelist")).content.decode()
        assert "HTTP 500" in listing
        page = admin_client.get(reverse("admin:contacts_notificationdelivery_change", args=[row.pk]))
        assert page.status_code == 200 and str(row.delivery_id) in page.content.decode()
        assert admin_client.get(reverse("admin:contacts_notificationdelivery_add")).status_code == 403

    def test_it_sends_a_failed_delivery_again_with_the_same_id_once_the_receiver_is_fixed(
        self, admin_client, channel, receiver, settings
    ):
        settings.NOTIFY_MAX_ATTEMPTS = 1
        receiver.script = ["fail"]
        delivery.send_test(channel)
        assert deliver_due() == [DeliveryStatus.FAILED]
        row = NotificationDelivery.objects.get()

        url = reverse("admin:contacts_notificationdelivery_changelist")
        response = admin_client.post(url, {"action": "send_again", "_selected_action": [row.pk]}, follow=True)
        assert "1 delivery sent again" in response.content.decode()
        assert deliver_due() == [DeliveryStatus.SENT]
        # Refused once, then taken: both attempts carried the delivery's one id, so a receiver can drop repeats.
        assert [request.delivery_id for request in receiver.received] == [str(row.delivery_id)] * 2
        assert [request.delivery_id for request in receiver.taken] == [str(row.delivery_id)]

    def test_it_leaves_a_sent_delivery_alone(self, admin_client, channel, receiver):
        delivery.send_test(channel)
        assert deliver_due() == [DeliveryStatus.SENT]
        url = reverse("admin:contacts_notificationdelivery_changelist")
        selected = [NotificationDelivery.objects.get().pk]
        response = admin_client.post(url, {"action": "send_again", "_selected_action": selected}, follow=True)
        assert "0 deliveries sent again; 1 not failed, left alone" in response.content.decode()
        assert NotificationDelivery.objects.get().status == DeliveryStatus.SENT

    def test_it_offers_send_again_only_to_who_may_change_channels(self, client, channel):
        viewer = make_user("supervisor")
        viewer.user_permissions.add(Permission.objects.get(codename="view_notificationdelivery"))
        client.force_login(viewer)
        page = client.get(reverse("admin:contacts_notificationdelivery_changelist"))
        assert page.status_code == 200 and "send_again" not in page.content.decode()


class PurgeTests:
    def test_it_purges_finished_deliveries_past_the_keep_days_and_keeps_the_rest(self, channel, settings):
        settings.NOTIFY_KEEP_DAYS = 30
        old = timezone.now() - timedelta(days=31)
        for status in (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.PENDING):
            NotificationDelivery.objects.create(channel=channel, event="test", payload={}, status=status,
                                                created_at=old)
        recent = NotificationDelivery.objects.create(channel=channel, event="test", payload={},
                                                     status=DeliveryStatus.SENT)
        assert delivery.purge() == 2
        assert set(NotificationDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.PENDING,
                                                                                       recent.status}

    def test_it_keeps_everything_when_told_to(self, channel, settings):
        settings.NOTIFY_KEEP_DAYS = 0
        NotificationDelivery.objects.create(channel=channel, event="test", payload={}, status=DeliveryStatus.SENT,
                                            created_at=timezone.now() - timedelta(days=3650))
        assert delivery.purge() == 0 and NotificationDelivery.objects.count() == 1
