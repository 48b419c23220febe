"""Deliveries: signed webhooks to a local receiver, retries with backoff and a cap, Slack, Teams and email bodies."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from contacts.notify import delivery, signing
from contacts.notify.models import ChannelKind, DeliveryStatus, NotificationChannel, NotificationDelivery
from contacts.notify.receiver import FAIL, LATE
from tests.notify.support import deliver_due, later


def queued_test(channel) -> NotificationDelivery:
    return delivery.send_test(channel)


class DeliveryTests:
    def test_it_delivers_a_webhook_with_a_valid_signature_and_its_delivery_id(self, channel, receiver):
        row = queued_test(channel)
        assert delivery.send(row.pk) == DeliveryStatus.SENT
        [request] = receiver.received
        assert request.verified
        assert request.delivery_id == str(row.delivery_id)
        assert request.json()["id"] == str(row.delivery_id)
        assert request.json()["type"] == "test"
        assert request.headers[signing.SIGNATURE_HEADER].startswith("v1=")

    def test_it_records_the_answer_on_the_row(self, channel, receiver):
        row = queued_test(channel)
        delivery.send(row.pk)
        row.refresh_from_db()
        assert (row.status, row.attempts, row.response_code, row.error) == (DeliveryStatus.SENT, 1, 200, "")
        assert row.sent_at is not None

    def test_it_retries_after_the_receiver_fails_with_the_same_delivery_id(self, channel, receiver):
        receiver.script = [FAIL]
        row = queued_test(channel)
        assert delivery.send(row.pk) == DeliveryStatus.PENDING
        row.refresh_from_db()
        assert (row.attempts, row.response_code) == (1, 500)
        assert row.next_attempt_at > timezone.now()
        assert deliver_due() == []  # not due before its backoff
        assert deliver_due(later()) == [DeliveryStatus.SENT]
        assert [r.delivery_id for r in receiver.received] == [str(row.delivery_id)] * 2
        assert len(receiver.taken) == 1

    def test_it_is_taken_once_by_a_receiver_that_drops_duplicates(self, channel, receiver, settings):
        # The receiver takes the first attempt but answers after the sender's timeout: the sender retries,
        # and the receiver, which dedupes by delivery id, drops the retry.
        settings.NOTIFY_TIMEOUT_SECONDS = 0.3
        receiver.script, receiver.late_seconds = [LATE], 3
        row = queued_test(channel)
        assert delivery.send(row.pk) == DeliveryStatus.PENDING
        assert "timed out" in NotificationDelivery.objects.get(pk=row.pk).error
        settings.NOTIFY_TIMEOUT_SECONDS = 5  # the retry is answered at once; a busy machine must not time it out
        assert deliver_due(later()) == [DeliveryStatus.SENT]
        assert [r.duplicate for r in receiver.received] == [False, True]
        assert len(receiver.taken) == 1

    def test_it_gives_up_after_the_last_attempt(self, channel, receiver, settings):
        settings.NOTIFY_MAX_ATTEMPTS = 2
        receiver.script = [FAIL, FAIL, FAIL]
        row = queued_test(channel)
        assert delivery.send(row.pk) == DeliveryStatus.PENDING
        assert deliver_due(later()) == [DeliveryStatus.FAILED]
        assert deliver_due(later(7200)) == []
        row.refresh_from_db()
        assert (row.status, row.attempts, row.response_code) == (DeliveryStatus.FAILED, 2, 500)
        assert row.error.startswith("HTTP 500")

    def test_it_records_a_receiver_that_is_not_there(self, channel, receiver):
        receiver.stop()
        row = queued_test(channel)
        assert delivery.send(row.pk) == DeliveryStatus.PENDING
        assert "refused" in NotificationDelivery.objects.get(pk=row.pk).error.lower()

    def test_it_takes_a_redirect_for_a_failed_attempt(self, channel, receiver):
        class Redirect(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.send_response(302)
                self.send_header("Location", receiver.url)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = HTTPServer(("127.0.0.1", 0), Redirect)
        threading.Thread(target=server.handle_request, daemon=True).start()
        channel.url = f"http://127.0.0.1:{server.server_address[1]}/moved"
        channel.save()
        try:
            row = queued_test(channel)
            assert delivery.send(row.pk) == DeliveryStatus.PENDING
        finally:
            server.server_close()
        assert NotificationDelivery.objects.get(pk=row.pk).response_code == 302
        assert receiver.received == []

    def test_it_backs_off_doubling_up_to_the_cap(self, settings):
        settings.NOTIFY_RETRY_SECONDS, settings.NOTIFY_RETRY_MAX_SECONDS = 10, 60
        assert [delivery.backoff(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]

    def test_it_sends_one_delivery_at_a_time(self, channel, receiver):
        first, second = queued_test(channel), queued_test(channel)
        assert delivery.claim(first.pk, timezone.now()) is not None
        assert delivery.send(second.pk) is None
        assert NotificationDelivery.objects.get(pk=second.pk).status == DeliveryStatus.PENDING
        assert receiver.received == []

    def test_it_never_sends_a_delivery_twice(self, channel, receiver):
        row = queued_test(channel)
        delivery.send(row.pk)
        assert delivery.send(row.pk) is None
        assert len(receiver.received) == 1

    def test_it_refuses_a_move_the_table_does_not_have(self, channel):
        row = queued_test(channel)
        with pytest.raises(ValueError):
            delivery.move(row.pk, DeliveryStatus.PENDING, DeliveryStatus.SENT)

    def test_it_skips_a_disabled_channel(self, channel):
        channel.enabled = False
        channel.save()
        assert queued_test(channel) is None


class SweepTests:
    def test_it_frees_an_attempt_whose_worker_died(self, channel):
        row = queued_test(channel)
        delivery.claim(row.pk, timezone.now())
        NotificationDelivery.objects.filter(pk=row.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
        delivery.sweep(later())
        row.refresh_from_db()
        assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
        assert "lost" in row.error

    def test_it_names_nothing_while_a_delivery_is_being_sent(self, channel):
        first, _second = queued_test(channel), queued_test(channel)
        delivery.claim(first.pk, timezone.now())
        assert delivery.sweep() is None

    def test_it_names_the_oldest_due_delivery(self, channel):
        first, _second = queued_test(channel), queued_test(channel)
        assert delivery.next_due() == first.pk


class ChannelKindTests:
    def make(self, kind: str, receiver) -> NotificationChannel:
        return NotificationChannel.objects.create(name=kind, kind=kind, url=receiver.url)

    def test_it_posts_slack_text(self, receiver):
        receiver.secret = ""
        delivery.send(queued_test(self.make(ChannelKind.SLACK, receiver)).pk)
        [request] = receiver.received
        assert request.json()["text"].startswith("*Test message from ccpdash")

    def test_it_posts_a_teams_adaptive_card(self, receiver):
        receiver.secret = ""
        delivery.send(queued_test(self.make(ChannelKind.TEAMS, receiver)).pk)
        [attachment] = receiver.received[0].json()["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert attachment["content"]["body"][0]["text"].startswith("Test message from ccpdash")

    def test_it_sends_email_through_the_mail_backend(self, mailoutbox):
        email_channel = NotificationChannel.objects.create(name="Ops mail", kind=ChannelKind.EMAIL,
                                                           emails="ops@example.com, lead@example.com")
        row = queued_test(email_channel)
        assert delivery.send(row.pk) == DeliveryStatus.SENT
        [mail] = mailoutbox
        assert mail.to == ["ops@example.com", "lead@example.com"]
        assert mail.subject == "Test message from ccpdash to Ops mail"
        assert mail.extra_headers["Message-ID"] == f"<{row.delivery_id}@ccpdash.notify>"
