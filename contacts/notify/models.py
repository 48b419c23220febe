"""The notification tables: channels (where messages go), rules (what is worth a message), rule states, deliveries.

A rule's state per subject (an alert group, a queue's threshold, the CCE connection) is the last thing
that rule told its channels, so the periodic check compares the present with what was said, never with
the previous tick: a check that was skipped or ran twice says nothing twice. Each message to each
channel is a `NotificationDelivery` row written in the same transaction as the state it reports
(DESIGN invariant 2), sent later by a task (contacts.notify.delivery).

These models belong to the `contacts` app (imported at the bottom of `contacts/models.py`).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, validate_email
from django.db import models
from django.db.models import Q
from django.utils import timezone


def new_secret() -> str:
    return f"whsec_{secrets.token_hex(24)}"


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (signed JSON POST)"
    SLACK = "slack", "Slack incoming webhook"
    TEAMS = "teams", "Microsoft Teams incoming webhook"
    EMAIL = "email", "Email"


class NotificationChannel(models.Model):
    """Where messages go: a URL (webhook, Slack, Teams) or email addresses."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=ChannelKind.choices, default=ChannelKind.WEBHOOK)
    url = models.URLField("URL", max_length=500, blank=True, help_text="Webhook, Slack or Teams: where to POST.")
    emails = models.CharField(
        max_length=500, blank=True, help_text="Email: the recipients, separated by commas."
    )
    secret = models.CharField(
        max_length=80, default=new_secret,
        help_text="Webhook: the key of the Ccpdash-Signature header (README \"Notifications\").",
    )
    enabled = models.BooleanField(default=True)
    # Slack and Teams receivers keep no secret of ours; only a webhook is signed.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "notification channel"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def recipients(self) -> list[str]:
        return [address.strip() for address in self.emails.split(",") if address.strip()]

    def clean(self) -> None:
        if self.kind == ChannelKind.EMAIL:
            if not self.recipients:
                raise ValidationError({"emails": "An email channel needs at least one address."})
            for address in self.recipients:
                validate_email(address)
        elif not self.url:
            raise ValidationError({"url": "A webhook, Slack or Teams channel needs the URL to POST to."})


class RuleKind(models.TextChoices):
    DISCARDS = "discards", "Discard group opened or grown past N"
    QUEUE = "queue", "Queue threshold crossed"
    CONNECTION = "connection", "CCE connection lost"


class NotificationRule(models.Model):
    """What is worth a message, to which channels; muted until a time, quiet in some hours of each day."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=12, choices=RuleKind.choices, default=RuleKind.DISCARDS)
    threshold = models.PositiveIntegerField(
        "N (open discards)", default=1, validators=[MinValueValidator(1)],
        help_text="Discard groups: send when a group has at least this many open discards (and again when it "
                  "doubles since the last message). Ignored by the other kinds.",
    )
    channels = models.ManyToManyField(NotificationChannel, related_name="rules", blank=True)
    enabled = models.BooleanField(default=True)
    notify_resolved = models.BooleanField(
        "send resolved", default=True,
        help_text="Also send when it is over: the group closed, the queue back under, the connection restored.",
    )
    muted_until = models.DateTimeField(
        null=True, blank=True,
        help_text="Nothing is sent before this time; then one message per subject says where things stand.",
    )
    quiet_from = models.TimeField(null=True, blank=True, help_text="Quiet hours start (TIME_ZONE), every day.")
    quiet_until = models.TimeField(null=True, blank=True, help_text="Quiet hours end; may be past midnight.")

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "notification rule"

    def __str__(self) -> str:
        return self.name

    def silenced(self, now: datetime) -> bool:
        """Muted or in its quiet hours: the rule is not evaluated, so it catches up once it may speak."""
        if self.muted_until and now < self.muted_until:
            return True
        return in_quiet_hours(timezone.localtime(now).time(), self.quiet_from, self.quiet_until)


def in_quiet_hours(at: time, start: time | None, end: time | None) -> bool:
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= at < end
    return at >= start or at < end  # across midnight, e.g. 22:00 to 07:00


class NotificationRuleState(models.Model):
    """What a rule last said about one subject: open (with the count it gave) or not."""

    rule = models.ForeignKey(NotificationRule, on_delete=models.CASCADE, related_name="states")
    subject = models.CharField(max_length=200)
    open = models.BooleanField(default=False)
    count = models.PositiveIntegerField(default=0)
    # When a message became due but waited for the burst to settle (NOTIFY_SETTLE_SECONDS), so a
    # stream that never pauses is still told within NOTIFY_MAX_HOLD_SECONDS.
    held_since = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["rule_id", "subject"]
        constraints = [models.UniqueConstraint(fields=["rule", "subject"], name="notify_state_one_per_subject")]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.subject}: {'open' if self.open else 'closed'} ({self.count})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"
    SENDING = "sending", "sending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed"


class NotificationDelivery(models.Model):
    """One message to one channel: its body, and how sending it went (contacts.notify.delivery moves it)."""

    # Sent as Ccpdash-Delivery-Id with every attempt: a receiver that saw it already drops the retry.
    delivery_id = models.UUIDField("delivery id", default=uuid.uuid4, unique=True, editable=False)
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    rule = models.ForeignKey(
        NotificationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    event = models.CharField(max_length=32, help_text="discards.opened, queue.resolved, test, ...")
    subject = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(help_text="The message; every attempt sends the same body.")
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # While sending: when the attempt counts as lost (its worker died) and the periodic check frees it.
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "notification delivery"
        verbose_name_plural = "notification deliveries"
        constraints = [
            # One delivery is sent at a time, whatever the number of channels and messages: a receiver
            # that hangs holds one worker process, for at most NOTIFY_TIMEOUT_SECONDS, never the pipeline's
            # workers all at once. A second claim fails on this index and leaves its delivery pending.
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="sending"), name="notify_delivery_one_sending"
            ),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="notify_delivery_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.channel_id}: {self.status}"
