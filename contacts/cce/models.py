"""The mock Unified CCE's configuration (MRDs, dialed numbers, scripts, agents, settings) and its agent slots.

These models belong to the `contacts` app (imported at the bottom of `contacts/models.py`), so they
share its migrations and permissions. Agent slots are rows (`AgentAssignment`), never process memory:
an agent's used slots are its open assignments, so any worker can route and a killed one loses nothing.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

MAX_CONCURRENT = 10


class MediaRoutingDomain(models.Model):
    """An MRD: a queue of contacts served first in, first out by its ready agents."""

    id = models.PositiveIntegerField("MRD ID", primary_key=True)
    name = models.CharField(max_length=100)
    routing_enabled = models.BooleanField(default=True)
    max_tasks_in_queue = models.PositiveIntegerField(
        default=0, help_text="A new contact finding this many queued is released. 0 = no limit."
    )
    task_life_seconds = models.PositiveIntegerField(
        default=0, help_text="A contact queued longer than this is released. 0 = no limit."
    )
    service_level_seconds = models.PositiveIntegerField(
        "service level threshold (s)",
        default=20,
        validators=[MinValueValidator(1)],
        help_text="A contact answered (routed to an agent) within this many seconds of entering the queue counts "
        "toward the MRD's service level; 20 is the common 80/20 target's.",
    )

    class Meta:
        ordering = ["id"]
        verbose_name = "media routing domain"

    def __str__(self) -> str:
        return f"MRD {self.id} {self.name}"


class ScriptAction(models.TextChoices):
    ROUTE = "route", "route to agents"
    RELEASE = "release", "release"
    FAIL = "fail", "fail with unknown error"


class RoutingScript(models.Model):
    """What the router does with a contact whose dialed number is bound to this script."""

    name = models.CharField(max_length=100, unique=True)
    action = models.CharField(max_length=8, choices=ScriptAction.choices, default=ScriptAction.ROUTE)
    delay_seconds = models.PositiveIntegerField(
        default=0,
        help_text="Route to agents only: a queued contact waits at least this long before it is offered to an agent.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.delay_seconds and self.action != ScriptAction.ROUTE:
            raise ValidationError({"delay_seconds": "A release or fail script acts at once; only routing waits."})


class DialedNumber(models.Model):
    """A dialed number / script selector: the string a task names (or a feed's notification, for callbacks)."""

    string = models.CharField("script selector", max_length=32, unique=True)
    mrd = models.ForeignKey(MediaRoutingDomain, on_delete=models.PROTECT, related_name="dialed_numbers",
                            verbose_name="MRD")
    script = models.ForeignKey(
        RoutingScript,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dialed_numbers",
        help_text="None: contacts for it are discarded with NOTIFICATION_NO_SCRIPT.",
    )

    class Meta:
        ordering = ["string"]
        verbose_name = "dialed number / script selector"
        verbose_name_plural = "dialed numbers / script selectors"

    def __str__(self) -> str:
        return self.string


class Agent(models.Model):
    """An agent of one MRD; it serves up to `max_concurrent` contacts at once, each for a random handle time."""

    name = models.CharField(max_length=100)
    agent_id = models.CharField("agent ID", max_length=32, unique=True, help_text='Reported as agentID, e.g. "1081".')
    mrd = models.ForeignKey(MediaRoutingDomain, on_delete=models.PROTECT, related_name="agents", verbose_name="MRD")
    ready = models.BooleanField(default=True)
    max_concurrent = models.PositiveSmallIntegerField(
        "max concurrent contacts", default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_CONCURRENT)]
    )
    handle_time_min = models.PositiveIntegerField("handle time min (s)", default=5)
    handle_time_max = models.PositiveIntegerField("handle time max (s)", default=15)

    class Meta:
        ordering = ["mrd_id", "agent_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_concurrent__gte=1, max_concurrent__lte=MAX_CONCURRENT), name="agent_slots_1_to_10"
            ),
            models.CheckConstraint(
                condition=Q(handle_time_min__lte=models.F("handle_time_max")), name="agent_handle_time_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.agent_id})"

    def clean(self) -> None:
        if (
            self.handle_time_min is not None
            and self.handle_time_max is not None
            and self.handle_time_min > self.handle_time_max
        ):
            raise ValidationError({"handle_time_max": "The maximum handle time must not be below the minimum."})

    @property
    def mean_handle_seconds(self) -> float:
        return (self.handle_time_min + self.handle_time_max) / 2


class AgentAssignment(models.Model):
    """One contact holding one of an agent's slots from `started_at` until it is released (history kept).

    The slot is open while `released_at` is empty. `ends_at` is the due time the sweep acts on: a
    task's completion (also in `Contact.due_at`) or the end of the call an agent makes for a callback.
    """

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="assignments")
    # One-to-one: a contact is routed at most once in its life, so a second slot for it is a bug
    # the database refuses rather than a silently over-used agent.
    contact = models.OneToOneField("contacts.Contact", on_delete=models.CASCADE, related_name="assignment")
    mrd_id = models.PositiveIntegerField("MRD ID", help_text="Where the contact was routed; re-routed when freed.")
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["agent"], name="assignment_open_idx", condition=Q(released_at__isnull=True)),
            models.Index(fields=["ends_at"], name="assignment_due_idx", condition=Q(released_at__isnull=True)),
            # An agent's latest start (the longest-available pick) without reading its whole history.
            models.Index(fields=["agent", "-started_at"], name="assignment_agent_latest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} ← contact {self.contact_id}"

    @property
    def is_open(self) -> bool:
        return self.released_at is None


class RoutingDue(models.Model):
    """An MRD with routing to do: one row however many contacts joined its queue or freed a slot meanwhile.

    Marking an MRD inserts its row and enqueues one routing pass only if there was none (or the one
    there is stale: its message may have died with a worker); the pass deletes the row before it reads
    the queue, so whatever is marked after that start gets a pass of its own. Routing messages are
    therefore at most one per MRD in flight, not one per contact (contacts.cce.routing).
    """

    mrd_id = models.PositiveIntegerField("MRD ID", primary_key=True)
    marked_at = models.DateTimeField()

    class Meta:
        verbose_name = "MRD due for routing"
        verbose_name_plural = "MRDs due for routing"

    def __str__(self) -> str:
        return f"MRD {self.mrd_id} due for routing since {self.marked_at}"


class AdmissionClaim(models.Model):
    """An unread contact the throttle has admitted and counted, whose CCE answer is not written yet.

    Admission is two steps (contacts.cce.actions): a short one under the settings row lock counts the
    window and claims the oldest unread contacts up to its free capacity; a second one, holding no
    settings lock, decides the claimed contacts and moves them, deleting their claims in the same
    transaction. Until then a claim counts against the rate like the admission it will become, so the
    count stays exact, and the claimed contact is no longer in the backlog. A claim left by a killed
    worker is decided by the reconciler.
    """

    contact = models.OneToOneField(
        "contacts.Contact", primary_key=True, on_delete=models.CASCADE, related_name="admission_claim"
    )
    claimed_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "contact admitted, answer pending"
        verbose_name_plural = "contacts admitted, answers pending"

    def __str__(self) -> str:
        return f"contact {self.contact_id} admitted at {self.claimed_at}"


class CceSettings(models.Model):
    """The one row of CCE-wide settings: the MR PG connection and the throttle (acted on by the next issue)."""

    SINGLETON_ID = 1

    connection_up = models.BooleanField(
        "MR PG connection up", default=True, help_text="Down: submissions and queued contacts are discarded."
    )
    throttle_per_minute = models.PositiveIntegerField(
        "throttle (contacts per minute)", default=375, help_text="Across all MRDs. 0 = unlimited."
    )
    backlog_size = models.PositiveIntegerField(
        default=10000, help_text="Contacts over the rate wait here in arrival order; full (or 0): discarded."
    )

    class Meta:
        verbose_name = "CCE settings"
        verbose_name_plural = "CCE settings"

    def __str__(self) -> str:
        return "CCE settings"

    def save(self, *args, **kwargs) -> None:
        self.pk = self.SINGLETON_ID
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> CceSettings:
        """The settings row, or the defaults (unsaved) if nobody created it: reading never writes."""
        return cls.objects.filter(pk=cls.SINGLETON_ID).first() or cls(pk=cls.SINGLETON_ID)
