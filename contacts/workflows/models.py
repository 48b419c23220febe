"""The admins' workflow records: audit entries, bulk jobs and resubmit claims (one per resubmitted discard).

These models belong to the `contacts` app (imported at the bottom of `contacts/models.py`). None of
them changes a contact's state: that is `contacts.core.lifecycle`'s job. An audit entry outlives its
contact (the purge of finished contacts keeps it: the FK is SET_NULL and the public id is kept as text).
A configuration change made in the Django admin is an audit entry with no contact: its `target` says
what was changed, `target_key` names it for lookups (contacts.cce.config_changes), `changes` holds
old → new per field.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from contacts.core.lifecycle import Source


class AuditAction(models.TextChoices):
    RESUBMIT = "resubmit", "resubmit"
    CANCEL = "cancel", "cancel"
    BULK_START = "bulk_start", "bulk job started"
    BULK_FINISH = "bulk_finish", "bulk job finished"
    ACKNOWLEDGE = "acknowledge", "acknowledge"
    CONFIG_CHANGED = "config_changed", "configuration changed"


class AuditEntry(models.Model):
    """Who did what to which contact (or job), when, and why (the optional comment)."""

    created_at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    username = models.CharField(max_length=150, blank=True, help_text="Kept when the user is deleted.")
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    source = models.CharField(max_length=10, choices=Source.choices, blank=True)
    contact = models.ForeignKey("contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="audit_entries")
    contact_public_id = models.CharField(max_length=32, blank=True, help_text="Kept when the contact is purged.")
    job = models.ForeignKey("contacts.BulkJob", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="audit_entries")
    comment = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    target = models.CharField(max_length=200, blank=True, help_text='What a configuration change changed, e.g. '
                              '"MRD 5001 Chat".')
    target_key = models.CharField(max_length=64, blank=True, help_text='The changed object, e.g. "mrd:5001".')
    changes = models.JSONField(default=dict, blank=True, help_text="{field: [old, new]}, by verbose field name.")

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["contact_public_id", "id"], name="audit_contact_idx"),
            models.Index(fields=["username", "-id"], name="audit_user_idx"),
            models.Index(fields=["action", "-id"], name="audit_action_idx"),
            # A contact's timeline asks for the changes to its MRD, selector, script and the CCE settings
            # between its discard and its resubmit: a few short range reads, whatever the log's size.
            models.Index(fields=["target_key", "created_at"], name="audit_target_time_idx",
                         condition=~models.Q(target_key="")),
        ]

    def __str__(self) -> str:
        what = self.contact_public_id or self.target or self.job_id or ""
        return f"{self.username or '—'} {self.action} {what}".strip()

    @classmethod
    def record(cls, action: str, *, user=None, source: str = "", contact=None, job=None, comment: str = "",
               details: dict | None = None, target: str = "", target_key: str = "",
               changes: dict | None = None) -> AuditEntry:
        """Write one entry; call it inside the transaction of the action it records, so both commit or neither."""
        signed_in = user is not None and user.is_authenticated
        return cls.objects.create(
            action=action,
            user=user if signed_in else None,
            username=user.get_username() if signed_in else "",
            source=source,
            contact=contact,
            contact_public_id=contact.public_id if contact is not None else "",
            job=job,
            comment=comment,
            details=details or {},
            target=target[:200],
            target_key=target_key,
            changes=changes or {},
        )


class BulkJobKind(models.TextChoices):
    RESUBMIT = "resubmit", "resubmit"
    CANCEL = "cancel", "cancel"


class BulkJobState(models.TextChoices):
    RUNNING = "running", "running"
    DONE = "done", "done"


class BulkJob(models.Model):
    """A resubmit or cancel of every contact of a filtered list, run by a Celery task (contacts.workflows.jobs).

    `cursor` is the id of the last contact the job has dealt with; it only advances by a compare-and-set
    committed together with that contact's action, so a retried, restarted or duplicated runner never
    acts on a contact twice and the counts are exact. The snapshot ids keep the job to what the admin
    previewed: contacts created, and discards made, after the job started are not its business.
    """

    kind = models.CharField(max_length=8, choices=BulkJobKind.choices)
    state = models.CharField(max_length=8, choices=BulkJobState.choices, default=BulkJobState.RUNNING)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    username = models.CharField(max_length=150, blank=True)
    filters = models.JSONField(default=dict, blank=True, help_text="The contact list's query parameters.")
    comment = models.TextField(blank=True)
    # The preview form's one-time token: a double-clicked confirm finds the job the first click started.
    token = models.CharField(max_length=32, unique=True, null=True, blank=True)

    total = models.PositiveIntegerField(default=0, help_text="Contacts the preview counted.")
    done = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True, help_text="Skips by why.")

    cursor = models.BigIntegerField(default=0)
    last_contact_id = models.BigIntegerField(default=0)
    last_transition_id = models.BigIntegerField(default=0)
    next_step_at = models.DateTimeField(null=True, blank=True, help_text="When the pace allows the next contact.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "heartbeat_at"], name="bulkjob_state_idx")]

    def __str__(self) -> str:
        return f"bulk {self.kind} #{self.pk}"

    @property
    def finished(self) -> bool:
        return self.state == BulkJobState.DONE


class ResubmitClaim(models.Model):
    """One discard resubmitted: unique per (contact, discard transition), taken in the resubmit's transaction.

    A double click, a second admin, two overlapping bulk jobs or a restarted one all try to insert the
    same row; the database lets one in and the others get an IntegrityError, so a discard is resubmitted
    at most once, whoever asks. A task discarded again after its renotify has a new discard, claimable anew.
    """

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="resubmit_claims")
    discard = models.ForeignKey("contacts.Transition", on_delete=models.CASCADE, related_name="+")
    result = models.ForeignKey("contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", help_text="The task renotified, or the new callback.")
    job = models.ForeignKey(BulkJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="claims")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "discard"], name="one_resubmit_per_discard")]

    def __str__(self) -> str:
        return f"resubmit of contact {self.contact_id} (discard {self.discard_id})"
