"""`manage.py webhook_receiver`'s report of each request: headers, whether the signature verified, duplicates."""

from __future__ import annotations

from contacts.management.commands.webhook_receiver import describe
from contacts.notify import delivery
from contacts.notify.receiver import Receiver


class ReceiverReportTests:
    def test_it_says_a_signature_verified(self, channel, receiver):
        delivery.send(delivery.send_test(channel).pk)
        report = describe(receiver.received[0])
        assert "signature: verified" in report
        assert "Ccpdash-Delivery-Id: " in report and '"type": "test"' in report

    def test_it_says_why_a_signature_did_not_verify(self, channel):
        wrong = Receiver(secret="whsec_other").start()
        try:
            channel.url = wrong.url
            channel.save()
            delivery.send(delivery.send_test(channel).pk)
            assert "signature: NOT verified (signature does not match" in describe(wrong.received[0])
        finally:
            wrong.stop()

    def test_it_says_when_it_does_not_check(self, channel):
        blind = Receiver().start()
        try:
            channel.url = blind.url
            channel.save()
            delivery.send(delivery.send_test(channel).pk)
            assert "signature: not checked" in describe(blind.received[0])
        finally:
            blind.stop()
