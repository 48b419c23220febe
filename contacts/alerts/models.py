"""The alert tables: queue-alert thresholds per MRD, the queue alerts they raise, and acknowledgements.

A *discard alert* has no table of its own: it IS its discard `Transition` (a move to `discarded` with
an error code). The lifecycle already writes that row in the move's transaction, so an alert costs
the hot path nothing, cannot be lost between the move and a second write, and is exactly as durable
as the history it reports. What a supervisor adds later (an acknowledgement) is a row of its own that
points at the transition or at the queue alert. Every table has growing ids, so a page that missed a
broadcast re-reads what came after its last id minus a window (DESIGN invariant 3).

These models belong to the `contacts` app (imported at the bottom of `contacts/models.py`).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class QueueAlertRule(models.Model):
    """Thresholds for one MRD's queue; crossing one raises a `QueueAlert`, going back under clears it."""

    mrd = models.OneToOneField(
        "contacts.MediaRoutingDomain", on_delete=models.CASCADE, related_name="queue_alert_rule", verbose_name="MRD"
    )
    max_oldest_seconds = models.PositiveIntegerField(
        "max oldest waiting (s)", default=0, help_text="Alert when the oldest queued contact waits longer. 0 = off."
    )
    max_queued = models.PositiveIntegerField(
        "max queued contacts", default=0, help_text="Alert when more contacts than this are queued. 0 = off."
    )
    enabled = models.BooleanField(default=True)
    # Amber levels of the dashboard's KPI figures (red is the alert thresholds above, and the goal below):
    # a supervisor sees a queue turn amber before it raises an alert. Not alerts themselves.
    warn_oldest_seconds = models.PositiveIntegerField(
        "amber from oldest waiting (s)", default=0,
        help_text="Show the longest wait in amber from this many seconds (red above the alert threshold). 0 = off.",
    )
    warn_queued = models.PositiveIntegerField(
        "amber from contacts waiting", default=0,
        help_text="Show the contacts waiting in amber from this many (red above the alert threshold). 0 = off.",
    )
    service_level_goal = models.PositiveSmallIntegerField(
        "service level goal (%)", default=0, validators=[MaxValueValidator(100)],
        help_text="Show today's service level in red below this share answered within the MRD's threshold. 0 = off.",
    )
    service_level_warn = models.PositiveSmallIntegerField(
        "service level amber below (%)", default=0, validators=[MaxValueValidator(100)],
        help_text="Show today's service level in amber below this share (at or above the goal). 0 = off.",
    )

    class Meta:
        ordering = ["mrd_id"]
        verbose_name = "queue alert rule"

    def __str__(self) -> str:
        return f"Queue alerts of MRD {self.mrd_id}"

    def clean(self) -> None:
        if self.enabled and not (self.max_oldest_seconds or self.max_queued):
            raise ValidationError("Set at least one threshold, or disable the rule.")
        errors = {}
        for warn, alert in (("warn_oldest_seconds", "max_oldest_seconds"), ("warn_queued", "max_queued")):
            if getattr(self, warn) and getattr(self, alert) and getattr(self, warn) > getattr(self, alert):
                errors[warn] = "Amber must start at or below the alert threshold."
        if self.service_level_warn and self.service_level_warn < self.service_level_goal:
            errors["service_level_warn"] = "Amber must start at or above the goal (red is below the goal)."
        if errors:
            raise ValidationError(errors)


class QueueMetric(models.TextChoices):
    OLDEST = "oldest", "oldest waiting"
    QUEUED = "queued", "queued contacts"


class QueueAlert(models.Model):
    """One crossing of a queue threshold, open until the queue is back under it (`cleared_at`)."""

    mrd_id = models.PositiveIntegerField("MRD ID", help_text="Kept as a number: history outlives the MRD.")
    metric = models.CharField(max_length=8, choices=QueueMetric.choices)
    threshold = models.PositiveIntegerField()
    value = models.PositiveIntegerField(help_text="Seconds or contacts when it was raised.")
    raised_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Two overlapping checks (a slow beat tick, two workers) may both see a crossing; the
            # database keeps one open alert per MRD and metric, and the loser's insert fails.
            models.UniqueConstraint(
                fields=["mrd_id", "metric"], condition=Q(cleared_at__isnull=True), name="queue_alert_one_open"
            ),
        ]
        indexes = [models.Index(fields=["raised_at"], name="queue_alert_raised_idx")]

    def __str__(self) -> str:
        return f"MRD {self.mrd_id} {self.get_metric_display()} {self.value} > {self.threshold}"

    @property
    def key(self) -> str:
        return f"q{self.pk}"


class AlertAcknowledgement(models.Model):
    """Someone saw an alert and took it on: of a discard (its transition) or of a queue alert; one per alert."""

    transition = models.OneToOneField(
        "contacts.Transition", null=True, blank=True, on_delete=models.CASCADE, related_name="acknowledgement"
    )
    queue_alert = models.OneToOneField(
        QueueAlert, null=True, blank=True, on_delete=models.CASCADE, related_name="acknowledgement"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(default=timezone.now)
    # When the acknowledged alert happened (its transition's `created_at`, its queue alert's `raised_at`),
    # copied here so the top bar's count of unacknowledged alerts on every page is two index counts
    # (alerts of the horizon minus acknowledgements of alerts of the horizon), never a join per alert.
    alert_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        permissions = [("acknowledge_alert", "Can acknowledge alerts")]
        indexes = [
            models.Index(fields=["alert_at"], condition=Q(transition__isnull=False), name="ack_discard_alert_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(transition__isnull=False, queue_alert__isnull=True)
                | Q(transition__isnull=True, queue_alert__isnull=False),
                name="acknowledgement_of_one_alert",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alert_key} acknowledged by {self.user}"

    @property
    def alert_key(self) -> str:
        """The alert's id in the alert event format: d<transition id> or q<queue alert id>."""
        return f"d{self.transition_id}" if self.transition_id else f"q{self.queue_alert_id}"
