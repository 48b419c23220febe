"""With real workers: a receiver that hangs holds one delivery, and the pipeline goes on handling contacts.

One test, on purpose (each starts a worker): the slow part of the suite is workers, not assertions.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from contacts.core import lifecycle
from contacts.core.lifecycle import Kind
from contacts.core.models import Contact, Feed
from contacts.notify import delivery
from contacts.notify.models import DeliveryStatus, NotificationDelivery
from contacts.notify.receiver import HANG
from tests.polling import wait_for

CONTACTS = 6


def status_of(row: NotificationDelivery) -> str:
    return NotificationDelivery.objects.get(pk=row.pk).status


@pytest.mark.django_db(transaction=True)
class HangingReceiverTests:
    def test_it_keeps_handling_contacts_while_a_delivery_hangs(self, start_worker, channel, receiver):
        receiver.script = [HANG] * 10
        # The worker's attempts wait far longer than this test, so the delivery is stuck throughout.
        start_worker(concurrency=2, NOTIFY_TIMEOUT_SECONDS="120")
        with transaction.atomic():
            first = delivery.send_test(channel)
            second = delivery.send_test(channel)
        wait_for(lambda: receiver.received, what="a delivery at the receiver")
        # Either may be taken first; the one the receiver holds is sending, the other waits its turn.
        stuck, waiting = (first, second) if status_of(first) == DeliveryStatus.SENDING else (second, first)
        feed = Feed.objects.get(id=100)
        contacts = [lifecycle.create(Kind.TASK, feed, name=f"c{i}", title="Order", script_selector="Sales")
                    for i in range(CONTACTS)]
        wait_for(lambda: Contact.objects.filter(pk__in=[c.pk for c in contacts], state="handled").count() == CONTACTS,
                 timeout=60, what="every contact handled")
        # One delivery at a time: the other waits instead of taking the pipeline's other worker process.
        assert (status_of(stuck), status_of(waiting)) == (DeliveryStatus.SENDING, DeliveryStatus.PENDING)
        assert len(receiver.received) == 1
