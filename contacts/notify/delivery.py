"""Sending deliveries: their lifecycle as one table, the attempt (HTTP or email), backoff, and the tasks.

    pending ──claim──> sending ──2xx / mail accepted──> sent
       ^                  │
       └──retry (backoff)─┤ failed attempt, attempts left
                          └──────────────────────────> failed (NOTIFY_MAX_ATTEMPTS reached)

`send_delivery` (BULK_QUEUE) claims one pending, due delivery by compare-and-set and sends it with
strict timeouts; a partial unique index lets one delivery be `sending` at a time (see the model), so a
receiver that hangs holds one worker process, never the pipeline's. When it is done it enqueues the
next due delivery. The retry's time is `next_attempt_at` in the database, not a countdown in a worker's
memory (TRAPS: Redis as Celery broker): the periodic check (`sweep`) enqueues what is due and frees an
attempt whose worker died. Nothing here runs in the pipeline's transactions.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from . import messages, signing
from .models import ChannelKind, NotificationChannel, NotificationDelivery
from .models import DeliveryStatus as Status

log = logging.getLogger(__name__)

# (from, to): why. Every status change is `move()`, a compare-and-set on the status it leaves.
MOVES = {
    (Status.PENDING, Status.SENDING): "claimed by an attempt",
    (Status.SENDING, Status.SENT): "the receiver took it",
    (Status.SENDING, Status.PENDING): "the attempt failed; retried after a backoff",
    (Status.SENDING, Status.FAILED): "the last allowed attempt failed",
    (Status.FAILED, Status.PENDING): "an admin sends it again (the same delivery id, its attempts counted afresh)",
}
ERROR_MAX = 500  # characters of an error or a refusing receiver's answer kept on the row


class AttemptFailed(Exception):
    def __init__(self, error: str, response_code: int | None = None) -> None:
        super().__init__(error)
        self.response_code = response_code


def move(delivery_id: int, source: str, target: str, **fields) -> bool:
    """Move one delivery from `source` to `target` if it is still at `source`; whether this call moved it."""
    if (source, target) not in MOVES:
        raise ValueError(f"a delivery never moves from {source} to {target}")
    return bool(NotificationDelivery.objects.filter(pk=delivery_id, status=source).update(status=target, **fields))


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: NOTIFY_RETRY_SECONDS doubled each time, capped."""
    seconds = settings.NOTIFY_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.NOTIFY_RETRY_MAX_SECONDS))


def claim_hold() -> timedelta:
    """How long an attempt may take before the sweep counts it lost: its task's hard limit and a margin."""
    return timedelta(seconds=attempt_time_limit() + 30)


def attempt_time_limit() -> float:
    # A receiver that trickles its answer byte by byte gets the timeout per read: bound the whole attempt.
    return settings.NOTIFY_TIMEOUT_SECONDS * 4 + 5


# --- creating ------------------------------------------------------------------------------------------------


def create(channels, payload: dict, *, event: str, subject: str = "", rule=None) -> list[NotificationDelivery]:
    """One delivery per enabled channel, enqueued after the surrounding transaction commits."""
    now = timezone.now()
    rows = [
        NotificationDelivery(channel=channel, rule=rule, event=event, subject=subject, payload=payload,
                             created_at=now, next_attempt_at=now)
        for channel in channels if channel.enabled
    ]
    created = NotificationDelivery.objects.bulk_create(rows)
    for row in created:
        enqueue_after_commit(row.pk)
    return created


def send_test(channel: NotificationChannel) -> NotificationDelivery | None:
    now = timezone.now()
    with transaction.atomic():
        rows = create([channel], messages.test_message(channel, now), event="test", subject="test")
    return rows[0] if rows else None


def send_again(deliveries) -> int:
    """Put failed deliveries back in line with their attempts counted afresh; how many were failed and moved.

    The delivery id and body stay: a receiver that did take an earlier attempt (its answer was lost) drops it.
    """
    moved = 0
    with transaction.atomic():
        for row in deliveries:
            if move(row.pk, Status.FAILED, Status.PENDING, attempts=0, next_attempt_at=timezone.now()):
                enqueue_after_commit(row.pk)
                moved += 1
    return moved


def enqueue_after_commit(delivery_id: int) -> None:
    transaction.on_commit(lambda: enqueue(delivery_id))


def enqueue(delivery_id: int) -> None:
    try:
        send_delivery.delay(delivery_id)
    except Exception:  # the broker is down: the sweep enqueues it again from the database
        log.warning("could not enqueue notification delivery %s; the periodic check will", delivery_id,
                    exc_info=True)


# --- one attempt ---------------------------------------------------------------------------------------------


def claim(delivery_id: int, now: datetime) -> NotificationDelivery | None:
    """Take a due pending delivery for one attempt; None if it is not due, done, or another is being sent."""
    try:
        with transaction.atomic():
            claimed = NotificationDelivery.objects.filter(
                pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now
            ).update(status=Status.SENDING, attempts=F("attempts") + 1, claimed_until=now + claim_hold())
    except IntegrityError:
        return None  # notify_delivery_one_sending: one at a time; the sender in flight enqueues the next
    if not claimed:
        return None
    return NotificationDelivery.objects.select_related("channel").get(pk=delivery_id)


def send(delivery_id: int, now: datetime | None = None) -> str | None:
    """One attempt at a delivery; returns its status afterwards, or None if there was nothing to attempt."""
    delivery = claim(delivery_id, now or timezone.now())
    if delivery is None:
        return None
    try:
        code = attempt(delivery)
    except AttemptFailed as failure:
        return record_failure(delivery, str(failure), failure.response_code)
    except Exception as exc:  # a soft time limit, a mail backend's own error: still an attempt that failed
        return record_failure(delivery, f"{type(exc).__name__}: {exc}", None)
    move(delivery.pk, Status.SENDING, Status.SENT, response_code=code, error="", sent_at=timezone.now(),
         claimed_until=None)
    return Status.SENT


def record_failure(delivery: NotificationDelivery, error: str, code: int | None) -> str:
    last = delivery.attempts >= settings.NOTIFY_MAX_ATTEMPTS
    target = Status.FAILED if last else Status.PENDING
    move(delivery.pk, Status.SENDING, target, response_code=code, error=error[:ERROR_MAX], claimed_until=None,
         next_attempt_at=timezone.now() + backoff(delivery.attempts))
    log.warning("notification delivery %s attempt %s failed%s: %s", delivery.delivery_id, delivery.attempts,
                "; giving up" if last else "", error)
    return target


def attempt(delivery: NotificationDelivery) -> int | None:
    """Send once; the response code (None for email), or AttemptFailed."""
    channel = delivery.channel
    if channel.kind == ChannelKind.EMAIL:
        return send_email(delivery)
    delivery_id = str(delivery.delivery_id)
    extra = {signing.DELIVERY_HEADER: delivery_id}
    if channel.kind == ChannelKind.WEBHOOK:
        body = messages.webhook_body(delivery_id, delivery.payload)
        extra = signing.headers(channel.secret, delivery_id, body)
    elif channel.kind == ChannelKind.SLACK:
        body = messages.slack_body(delivery.payload)
    else:
        body = messages.teams_body(delivery.payload)
    return post(channel.url, body, extra)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new address: urllib would turn the POST into a GET of the new URL."""

    def redirect_request(self, *args, **kwargs) -> None:
        return None  # urllib then raises HTTPError with the 3xx code: a failed attempt that names it


_opener = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, extra_headers: dict[str, str]) -> int:
    headers = {"Content-Type": "application/json", "User-Agent": "ccpdash-notify/1", **extra_headers}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        # The timeout bounds the connect and every read; attempt_time_limit() bounds the whole attempt.
        with _opener.open(request, timeout=settings.NOTIFY_TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        answer = refused.read(ERROR_MAX).decode(errors="replace")
        raise AttemptFailed(f"HTTP {refused.code}: {answer}".strip(), refused.code) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise AttemptFailed(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None


def send_email(delivery: NotificationDelivery) -> None:
    payload = delivery.payload
    email = EmailMessage(
        subject=payload["title"], body=messages.email_text(payload), to=delivery.channel.recipients,
        # The same Message-ID for every attempt, so a mail client shows a retried message once.
        headers={signing.DELIVERY_HEADER: str(delivery.delivery_id),
                 "Message-ID": f"<{delivery.delivery_id}@ccpdash.notify>"},
    )
    email.send(fail_silently=False)
    return None


# --- the sweep (run by the periodic check) ---------------------------------------------------------------------


def sweep(now: datetime | None = None) -> int | None:
    """Free an attempt whose worker died, then enqueue the oldest due delivery if none is being sent."""
    now = now or timezone.now()
    # The usual case, every few seconds: nothing waiting or in flight, one query.
    if not NotificationDelivery.objects.filter(status__in=[Status.PENDING, Status.SENDING]).exists():
        return None
    for lost in NotificationDelivery.objects.filter(status=Status.SENDING, claimed_until__lt=now):
        record_failure(lost, "the attempt was lost (its worker died or took too long)", None)
    if NotificationDelivery.objects.filter(status=Status.SENDING).exists():
        return None
    due = next_due(now)
    if due is not None:
        enqueue(due)
    return due


def next_due(now: datetime | None = None) -> int | None:
    return (
        NotificationDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now or timezone.now())
        .order_by("next_attempt_at", "id").values_list("pk", flat=True).first()
    )


def purge(now: datetime | None = None) -> int:
    """Delete sent and failed deliveries older than NOTIFY_KEEP_DAYS (0 keeps them); how many went."""
    days = settings.NOTIFY_KEEP_DAYS
    if not days:
        return 0
    before = (now or timezone.now()) - timedelta(days=days)
    finished = NotificationDelivery.objects.filter(status__in=[Status.SENT, Status.FAILED], created_at__lt=before)
    deleted, _ = finished.delete()
    if deleted:
        log.info("purged %s notification deliveries made before %s", deleted, before.isoformat())
    return deleted


@shared_task(name="contacts.notify.purge_deliveries", ignore_result=True)
def purge_deliveries() -> None:
    purge()


@shared_task(name="contacts.notify.send_delivery", ignore_result=True, soft_time_limit=attempt_time_limit(),
             time_limit=attempt_time_limit() + 10)
def send_delivery(delivery_id: int) -> None:
    """One attempt at one delivery (ids in; a delivery already sent, or not due, is left alone), then the next."""
    if send(delivery_id) is not None and (due := next_due()) is not None:
        enqueue(due)
