"""The reconciler: redoes from the database whatever a killed worker or a restarted broker lost.

Messages are hints (DESIGN invariants 3 and 4). A task killed with its worker comes back from Redis
only after the broker's visibility timeout, and a restarted broker may have lost it altogether, so
Celery beat runs `reconcile()` every CCE_RECONCILE_SECONDS and it looks at positions, not messages:

    queued contacts while the MR PG connection is down → CONNECTION_FAILURE (stragglers of a drop)
    contacts left `unread`                             → the backlog drains as the throttle allows
                                                         (briefly here, the rest handed to live workers)
    contacts claimed as admitted, unanswered for       → answered (the claimer died between its two
      CCE_RECONCILE_AFTER_SECONDS                          steps; they count against the rate meanwhile)
    renotifies in flight for CCE_RECONCILE_AFTER_SECONDS → resubmitted (T10 or T11)

The periodic sweep (`actions.sweep`, every CCE_SWEEP_SECONDS) covers the rest of what can be lost:
due timed events (task completions, callbacks' slots, cancels whose latency has passed — with a
latency of 0 every cancel in flight is due, so a lost `cancel_contact` is performed there — and task
life) and routing of every MRD with waiting contacts and a free slot. They are two tasks because the
drain waits for the throttle's lock and the sweep must not wait behind it.

Every step is idempotent and a compare-and-set, so the reconciler may run at any moment, beside
itself and beside the workers whose messages it stands in for; batch caps keep each run short.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from contacts.core.lifecycle import Source

from . import actions, recovery, throttle
from .models import AdmissionClaim, CceSettings

# Seconds one reconcile run spends admitting the backlog, at most (one round of SUBMIT_BATCH always runs).
RECONCILE_DRAIN_SECONDS = 1.0
# Drain messages sent to the live queue when more of the backlog is admissible than one run took: the
# live workers drain it side by side (each message up to DRAIN_ROUNDS batches), the periodic worker goes on.
DRAIN_HANDOFFS = 4


def reconcile(now: datetime | None = None) -> dict[str, int]:
    """One pass; returns how many contacts each step moved."""
    from . import tasks  # tasks imports this module

    now = now or timezone.now()
    done = {"disconnected": 0, "submitted": 0, "claims_answered": 0, "renotified": 0}
    if not CceSettings.load().connection_up:
        done["disconnected"] = recovery.disconnect_queued(source=Source.SYSTEM, limit=actions.SWEEP_BATCH)
    if throttle.backlog().exists():
        # Briefly: the periodic worker's slots are the sweeps' too, and the live workers' own
        # submit_contact drains do the bulk of a backlog. A longer drain here held both slots for a
        # minute under a burst (and ran into the time limit), so completions stopped meanwhile.
        done["submitted"], more = actions.drain(budget_seconds=RECONCILE_DRAIN_SECONDS)
        if more:
            for _ in range(DRAIN_HANDOFFS):
                tasks.drain_backlog.delay()
    stale = now - timedelta(seconds=settings.CCE_RECONCILE_AFTER_SECONDS)
    if AdmissionClaim.objects.filter(claimed_at__lt=stale).exists():  # rare: not worth the order lock otherwise
        done["claims_answered"] = actions.answer_claims(actions.SWEEP_BATCH, claimed_before=stale)
    done["renotified"] = actions.resume_renotifies(stale)
    return done
