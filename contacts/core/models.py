"""Feeds, contacts and their transition history: the source of truth for everything ccpdash shows."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from .positions import Kind, Pair, Reason, Source, State


def new_public_id() -> str:
    """32 random upper-case hex characters, as CCP's social contact ids look; not guessable."""
    return secrets.token_hex(16).upper()


class FeedType(models.IntegerChoices):
    """CCP's numeric feed types (spec §5)."""

    CALLBACK = 10, "callback"
    TASK = 12, "task"


class Feed(models.Model):
    """Where an application posts contacts; its numeric id is the `<feedId>` of the API paths."""

    id = models.PositiveIntegerField(primary_key=True, help_text="The number used in API URLs.")
    name = models.CharField(max_length=100)
    type = models.PositiveSmallIntegerField(choices=FeedType.choices)
    enabled = models.BooleanField(default=True)
    api_token = models.CharField(
        max_length=128,
        blank=True,
        help_text="If set, every API URL of this feed requires 'Authorization: Bearer <token>'.",
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.id} {self.name}"

    @property
    def kind(self) -> str:
        return Kind.CALLBACK if self.type == FeedType.CALLBACK else Kind.TASK


class FeedNotification(models.Model):
    """A feed's CCE notification: where its callbacks are routed (tasks name their own selector)."""

    feed = models.OneToOneField(Feed, on_delete=models.CASCADE, related_name="notification")
    mrd_id = models.PositiveIntegerField("MRD ID", help_text="Need not exist: CCE checks it at submission.")
    script_selector = models.CharField(max_length=32)
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"MRD {self.mrd_id} / {self.script_selector}"


class Contact(models.Model):
    """A callback or task request; its (state, reason) changes only through `contacts.core.lifecycle`."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    feed = models.ForeignKey(Feed, on_delete=models.PROTECT, related_name="contacts")
    state = models.CharField(max_length=10, choices=State.choices, default=State.UNREAD)
    reason = models.CharField(max_length=48, choices=Reason.choices, default=Reason.NONE, blank=True)

    # The payload of spec §4, as the client sent it.
    name = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=255, blank=True)
    description = models.TextField(max_length=4000, blank=True)
    script_selector = models.CharField(max_length=32, blank=True)
    media_address = models.CharField(max_length=40, blank=True)
    requeue_on_recovery = models.BooleanField(default=False)
    tags = models.JSONField(default=list, blank=True)
    variables = models.JSONField(default=list, blank=True, help_text='[{"name": ..., "value": ...}] in order')

    # What the CCE did with it, copied at submission so later configuration edits keep history.
    cce_mrd_id = models.PositiveIntegerField("MRD", null=True, blank=True)
    cce_script_selector = models.CharField("script selector used", max_length=32, blank=True)
    estimated_wait = models.IntegerField(null=True, blank=True, help_text="Seconds; -1 when unknown.")
    cce_task_id = models.CharField("CCE task ID", max_length=64, blank=True)
    agent_id = models.CharField("agent ID", max_length=64, blank=True)

    attempt = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    resubmitted_from = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resubmission",
        help_text="The discarded contact this one resubmits; each original is resubmitted at most once.",
    )
    due_at = models.DateTimeField(null=True, blank=True, help_text="When its next timed event is due.")
    # Set by `lifecycle.transition()` on every move into a waiting position (C2/T2/T10...): the MRD's
    # queue is first in first out by this time (contacts.cce.queues.fifo), read from an index.
    queue_entered_at = models.DateTimeField(
        "entered the queue", null=True, blank=True, editable=False, help_text="When it last entered its MRD's queue."
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            ("view_dashboard", "Can view the live dashboard"),
            ("manage_contacts", "Can cancel and resubmit contacts"),
        ]
        indexes = [
            models.Index(fields=["state", "reason"], name="contact_pair_idx"),
            models.Index(fields=["cce_mrd_id", "state", "reason"], name="contact_mrd_pair_idx"),
            models.Index(fields=["cce_script_selector", "state", "reason"], name="contact_selector_pair_idx"),
            models.Index(fields=["-created_at", "-id"], name="contact_newest_idx"),
            models.Index(fields=["reason", "-created_at"], name="contact_reason_time_idx"),
            models.Index(fields=["due_at"], name="contact_due_idx", condition=models.Q(due_at__isnull=False)),
            # The queues' FIFO order: only queued contacts are in it, so the index stays the size of the queues.
            models.Index(
                fields=["cce_mrd_id", "queue_entered_at", "id"],
                name="contact_queue_fifo_idx",
                condition=models.Q(state="queued"),
            ),
            # The throttle backlog in arrival order (contacts.cce.throttle.backlog), the size of the backlog.
            models.Index(fields=["created_at", "id"], name="contact_backlog_idx", condition=models.Q(state="unread")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.public_id}"

    @property
    def pair(self) -> Pair:
        return Pair(self.state, self.reason)


class Transition(models.Model):
    """One committed move of a contact; ids grow by insert (not by commit: see DESIGN invariant 3)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="transitions")
    rule = models.CharField(max_length=4, help_text="The row of the lifecycle table, e.g. T7.")
    from_state = models.CharField(max_length=10, blank=True)
    from_reason = models.CharField(max_length=48, blank=True)
    to_state = models.CharField(max_length=10)
    to_reason = models.CharField(max_length=48, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["to_state", "to_reason", "created_at"], name="transition_to_time_idx"),
            # The throttle counts admissions (moves out of unread) in its window.
            models.Index(fields=["from_state", "created_at"], name="transition_from_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.from_pair} → {self.to_pair}"

    @property
    def from_pair(self) -> Pair | None:
        return Pair(self.from_state, self.from_reason) if self.from_state else None

    @property
    def to_pair(self) -> Pair:
        return Pair(self.to_state, self.to_reason)

