"""Plain helpers of the notification tests: run the check a while after now, send what is due in this process."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from contacts.notify import delivery, rules
from contacts.notify.models import DeliveryStatus, NotificationDelivery


def later(seconds: float = 60) -> datetime:
    """A moment after every burst of the test has settled (NOTIFY_SETTLE_SECONDS)."""
    return timezone.now() + timedelta(seconds=seconds)


def check_later(seconds: float = 60) -> int:
    return rules.check(later(seconds))


def deliver_due(now: datetime | None = None) -> list[str | None]:
    """One attempt at every delivery due at `now`, in this process, as the chain of send_delivery tasks would."""
    now = now or timezone.now()
    due = NotificationDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    return [delivery.send(pk, now) for pk in due.order_by("id").values_list("pk", flat=True)]


def types_sent(receiver) -> list[str]:
    return [request.json()["type"] for request in receiver.taken]
