"""The notifications' admin: channels with their secret and "Send a test message", rules, the delivery log."""

from __future__ import annotations

import pytest
from django.urls import reverse

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
