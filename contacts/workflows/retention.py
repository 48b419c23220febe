"""Retention: finished contacts (handled, discarded) older than RETENTION_DAYS are purged in batches.

Run by Celery beat (`purge_finished_contacts`). A contact's transitions, slots and resubmit claims go
with it, and the figures' move tallies of the purged span are recounted; its audit entries stay (their
contact becomes NULL, its public id is kept as text), and a contact that resubmitted it keeps its own
row with `resubmitted_from` set to NULL.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contacts.core.lifecycle import FINAL_STATES
from contacts.core.models import Contact
from contacts.figures import tallies

log = logging.getLogger(__name__)

BATCH = 500
MAX_BATCHES = 100  # per run: a huge first purge spreads over several runs instead of one long one


def cutoff(now: datetime | None = None) -> datetime | None:
    """Contacts whose last move is older than this are purged; None when RETENTION_DAYS is 0 (keep forever)."""
    days = settings.RETENTION_DAYS
    return (now or timezone.now()) - timedelta(days=days) if days else None


def purge(now: datetime | None = None, *, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """Delete finished contacts last moved before the cutoff, `batch` at a time; returns how many went."""
    before = cutoff(now)
    if before is None:
        return 0
    purged = 0
    for _ in range(max_batches):
        deleted = _purge_batch(before, batch)
        purged += deleted
        if deleted < batch:
            break
    if purged:
        log.info("purged %s finished contacts last moved before %s", purged, before.isoformat())
        # Their moves all lie before the cutoff: recount that span from what is left (few rows by then).
        tallies.rebuild(end=before)
    return purged


def _purge_batch(before: datetime, batch: int) -> int:
    with transaction.atomic():
        # Lock what we delete: a resubmit (T9) of a discarded task racing the purge waits, then finds
        # the row gone (its compare-and-set refuses) rather than the purge deleting a contact on the move.
        # skip_locked leaves rows another transaction holds for the next run. (SQLite ignores both; its
        # IMMEDIATE transaction already serializes writers.)
        finished = Contact.objects.filter(state__in=FINAL_STATES, updated_at__lt=before)
        ids = list(finished.select_for_update(skip_locked=True).order_by("id").values_list("id", flat=True)[:batch])
        if not ids:
            return 0
        Contact.objects.filter(pk__in=ids, state__in=FINAL_STATES, updated_at__lt=before).delete()
    return len(ids)


# Each batch commits on its own, so a purge stopped by its time limit keeps what it deleted.
@shared_task(name="contacts.retention.purge_finished_contacts", soft_time_limit=600, time_limit=660)
def purge_finished_contacts() -> None:
    """Beat: purge finished contacts older than RETENTION_DAYS. Not retried: the next run does the same."""
    purge()
