"""Bulk jobs: resubmit or cancel every contact of a filtered list, previewed, paced and resumable.

A job is confirmed from a preview of the contact list's filters (`preview`), started by `start` and run
by the Celery task `run_bulk_job` in slices of at most SLICE_SECONDS, each contact through
`contacts.workflows.actions` (the same code as a single resubmit or cancel). Resubmits are paced at most
WORKFLOWS_BULK_SHARE of the CCE throttle, so a bulk job never fills the throttle's backlog. The job's
cursor advances by compare-and-set in the transaction of each contact's action: a retried, duplicated
or restarted runner never acts on a contact twice, and the claim rows of `contacts.workflows.actions` keep two
jobs (or a job and an admin) from resubmitting one discard twice. A runner killed mid-job is picked
up by `resume_bulk_jobs` (Celery beat) once its heartbeat is stale. Progress is broadcast as
`job.progress` on the dashboard group; `status()` is the truth a page resyncs from.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone

from contacts.cce.models import CceSettings
from contacts.core import hints, lifecycle
from contacts.core.filters import ContactFilterForm, filter_contacts
from contacts.core.lifecycle import CANCEL_SUCCEEDED, Kind, Source, State
from contacts.core.models import Contact, Feed
from contacts.live import broadcast

from . import actions
from .actions import ActionRefused
from .models import AuditAction, AuditEntry, BulkJob, BulkJobKind, BulkJobState, ResubmitClaim

log = logging.getLogger(__name__)

SLICE_SECONDS = 10.0  # a runner holds a worker at most this long, then queues itself behind other work
BATCH = 100
STALLED_AFTER = timedelta(seconds=3 * SLICE_SECONDS)  # no heartbeat for this long: the runner died
PREVIEW_SAMPLE = 1000  # contacts decide() is run for in a preview (grouped: one decide() per distinct payload)
ITEMS_SHOWN = 200
PROGRESS_EVERY = 0.5  # seconds between two progress broadcasts of one job from one runner
_last_progress: dict[int, float] = {}


# --- which contacts -----------------------------------------------------------------------------------


def _from_pairs(kind: str, target: lifecycle.Pair) -> Q:
    """Contacts of `kind` at a position the lifecycle table lets move to `target` (the table is the truth)."""
    q = Q(pk__in=[])
    for from_pair, to_pair in lifecycle.MOVES[kind]:
        if from_pair is not None and to_pair == target:
            q |= Q(kind=kind, state=from_pair.state, reason=from_pair.reason)
    return q


CANCEL_Q = _from_pairs(Kind.CALLBACK, lifecycle.CB_CANCELLING) | _from_pairs(Kind.TASK, lifecycle.TASK_CANCELLING)
# Discarded, not cancelled, and for a callback not resubmitted yet (a task is renotified in place).
RESUBMIT_Q = Q(state=State.DISCARDED) & ~Q(reason__in=CANCEL_SUCCEEDED) & (
    Q(kind=Kind.TASK) | Q(resubmission__isnull=True)
)
TARGETS = {BulkJobKind.RESUBMIT: RESUBMIT_Q, BulkJobKind.CANCEL: CANCEL_Q}


# A resubmit job's choice, kept in its `filters` beside the list's (the list's form ignores it): resubmit only
# the contacts whose discard's cause decide() finds gone; the others are skipped, "cause still present".
ONLY = "only"
CAUSE_GONE = "cause_gone"


def cause_gone_only(job: BulkJob) -> bool:
    return job.kind == BulkJobKind.RESUBMIT and job.filters.get(ONLY) == CAUSE_GONE


def clean_filters(data) -> dict | None:
    """The contact list's filters from query parameters (the list's own form), or None if they are invalid."""
    form = ContactFilterForm(data, list(Feed.objects.all()))
    if not form.is_valid():
        return None
    return {name: data[name] for name in form.fields if data.get(name)}


def targets(kind: str, filters: dict, now: datetime | None = None) -> QuerySet[Contact]:
    """The contacts of the filtered list a job of `kind` acts on (the same filter as the contact list)."""
    form = ContactFilterForm(filters, list(Feed.objects.all()))
    if not form.is_valid():  # stored filters a later feed deletion made invalid: act on nothing
        return Contact.objects.none()
    return filter_contacts(form.filters(), now).filter(TARGETS[kind])


# --- preview ---------------------------------------------------------------------------------------------


def preview(kind: str, filters: dict) -> dict:
    """What a job would act on: how many, by (state, reason) and by queue, oldest and newest; for a
    resubmit, how many of a sample decide() expects to fail. Aggregated in the database."""
    qs = targets(kind, filters).order_by()
    summary = qs.aggregate(count=Count("id"), oldest=Min("created_at"), newest=Max("created_at"))
    by_reason = qs.values("state", "reason").annotate(n=Count("id")).order_by("-n", "state", "reason")
    by_queue = qs.values("cce_mrd_id", "cce_script_selector").annotate(n=Count("id")).order_by("-n")[:50]
    return {
        **summary,
        "kind": kind,
        "by_reason": list(by_reason),
        "by_queue": list(by_queue),
        "expected": expected_failures(qs) if kind == BulkJobKind.RESUBMIT else None,
    }


def expected_failures(qs: QuerySet[Contact]) -> dict:
    """decide() for up to PREVIEW_SAMPLE contacts, once per distinct (kind, feed, selector, variables)."""
    fields = ("id", "kind", "feed_id", "script_selector", "variables", "reason")
    sample = list(qs.order_by("id").values(*fields)[:PREVIEW_SAMPLE])
    verdicts: dict[tuple, actions.Verdict] = {}
    fail, still, by_reason = 0, 0, {}
    for row in sample:
        key = (row["kind"], row["feed_id"], row["script_selector"], repr(row["variables"]), row["reason"])
        if key not in verdicts:
            probe = Contact(pk=row["id"], kind=row["kind"], feed_id=row["feed_id"],
                            script_selector=row["script_selector"], variables=row["variables"], reason=row["reason"])
            verdicts[key] = actions.cause_still_present(probe)
        verdict = verdicts[key]
        if not verdict.would_queue:
            fail += 1
            still += verdict.still_present
            by_reason[verdict.reason] = by_reason.get(verdict.reason, 0) + 1
    return {"sampled": len(sample), "capped": len(sample) == PREVIEW_SAMPLE, "fail": fail, "still_present": still,
            "would_queue": len(sample) - fail,
            "by_reason": sorted(by_reason.items(), key=lambda item: -item[1])}


# --- start, run, finish -------------------------------------------------------------------------------


def start(kind: str, filters: dict, *, user, comment: str = "", token: str | None = None) -> BulkJob:
    """Create the job (snapshotting what it may touch), audit it, and enqueue its runner after commit.

    A `token` already used returns that job: a double-clicked confirm starts one job, not two, also when
    both clicks arrive at once (the token's unique index decides: the second insert waits for the first
    and then finds its job). The runner's message is a hint: if it cannot be sent, `resume_bulk_jobs`
    starts the job within seconds.
    """
    if token and (existing := BulkJob.objects.filter(token=token).first()):
        return existing
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: a lost race on the token rolls back only the insert
                job = BulkJob.objects.create(
                    kind=kind, user=user, username=user.get_username(), filters=filters, comment=comment,
                    token=token or uuid.uuid4().hex, total=targets(kind, filters, now).count(),
                    last_contact_id=Contact.objects.aggregate(m=Max("id"))["m"] or 0,
                    last_transition_id=broadcast.latest_transition_id(), created_at=now, heartbeat_at=now,
                )
        except IntegrityError:
            if token and (existing := BulkJob.objects.filter(token=token).first()):
                return existing
            raise
        AuditEntry.record(AuditAction.BULK_START, user=user, source=Source.DASHBOARD, job=job, comment=comment,
                          details={"kind": kind, "filters": filters, "total": job.total})
        hints.after_commit(lambda: run_bulk_job.delay(job.pk), f"the runner of bulk job {job.pk}")
    return job


def run(job_id: int) -> None:
    """Work on the job for one slice; queue itself again if there is more (the beat sweep backs that up).

    A paced job (resubmits under the throttle) never sleeps in its worker slot: when its next step is
    not due yet, the runner ends and queues itself again with that step's countdown, so the slot serves
    other work meanwhile.
    """
    deadline = time.monotonic() + SLICE_SECONDS
    while True:
        job = BulkJob.objects.filter(pk=job_id).first()
        if job is None or job.finished:
            return
        ids = _next_ids(job)
        if not ids:
            finish(job)
            return
        for contact_id in ids:
            wait = (job.next_step_at - timezone.now()).total_seconds() if job.next_step_at else 0
            if wait > 0 or time.monotonic() > deadline:
                run_bulk_job.apply_async((job_id,), countdown=max(wait, 0))
                return
            job = step(job, contact_id)
            if job is None:  # another runner of the same job moved the cursor: it carries on
                return


def _next_ids(job: BulkJob) -> list[int]:
    qs = targets(job.kind, job.filters, job.created_at).filter(id__gt=job.cursor, id__lte=job.last_contact_id)
    return list(qs.order_by("id").values_list("id", flat=True)[:BATCH])


def step(job: BulkJob, contact_id: int) -> BulkJob | None:
    """Act on one contact and advance the cursor past it, in one transaction; None if another runner won."""
    with transaction.atomic():
        # The compare-and-set on the cursor: the row stays locked until commit, so a second runner of
        # this job waits here and then finds the cursor moved. The action commits with the cursor.
        won = BulkJob.objects.filter(pk=job.pk, cursor=job.cursor, state=BulkJobState.RUNNING).update(
            cursor=contact_id, heartbeat_at=timezone.now()
        )
        if not won:
            return None
        job.refresh_from_db()
        why = _act(job, Contact.objects.select_related("feed").filter(pk=contact_id).first())
        if why is None:
            job.succeeded += 1
            job.next_step_at = timezone.now() + timedelta(seconds=pace_interval(job.kind))
        else:
            job.skipped += 1
            job.summary = {**job.summary, why: job.summary.get(why, 0) + 1}
        job.done += 1
        job.save(update_fields=["succeeded", "skipped", "done", "summary", "next_step_at"])
        transaction.on_commit(lambda: send_progress(job))
    return job


def _act(job: BulkJob, contact: Contact | None) -> str | None:
    """The action for one contact; None when done, else why it was skipped (a `Why` code)."""
    if contact is None:
        return "purged"
    try:
        with transaction.atomic():  # a refused action rolls back to here, never the cursor's move
            if job.kind == BulkJobKind.CANCEL:
                actions.request_cancel(contact, source=Source.DASHBOARD, user=job.user, comment=job.comment, job=job)
                return None
            discard = actions.latest_discard(contact)
            if discard is not None and discard.pk > job.last_transition_id:
                return "discarded again since the job started"
            if cause_gone_only(job) and not actions.cause_still_present(contact).would_queue:
                return actions.Why.CAUSE_PRESENT
            actions.resubmit(contact, source=Source.DASHBOARD, user=job.user, comment=job.comment, job=job,
                             discard_id=discard.pk if discard else None)
            return None
    except ActionRefused as refused:
        return refused.code


def pace_interval(kind: str) -> float:
    """Seconds between two resubmits: WORKFLOWS_BULK_SHARE of the throttle's rate (0: the throttle is off)."""
    per_window = CceSettings.load().throttle_per_minute
    if kind != BulkJobKind.RESUBMIT or not per_window:
        return 0.0
    window = getattr(settings, "CCE_THROTTLE_WINDOW_SECONDS", 60.0)
    return window / max(1, int(per_window * settings.WORKFLOWS_BULK_SHARE))


def finish(job: BulkJob) -> None:
    """Mark the job done (once, whoever calls it) and audit its summary."""
    with transaction.atomic():
        now = timezone.now()
        if not BulkJob.objects.filter(pk=job.pk, state=BulkJobState.RUNNING).update(
            state=BulkJobState.DONE, finished_at=now, heartbeat_at=now
        ):
            return
        job.refresh_from_db()
        details = {"kind": job.kind, "done": job.done, "succeeded": job.succeeded, "skipped": job.skipped,
                   "skips": job.summary}
        AuditEntry.record(AuditAction.BULK_FINISH, user=job.user, source=Source.DASHBOARD, job=job,
                          comment=job.comment, details=details)
        transaction.on_commit(lambda: send_progress(job, force=True))


def resume_stalled(stalled_after: timedelta = STALLED_AFTER) -> list[int]:
    """Queue a runner for every unfinished job whose runner went quiet (killed, or its message lost)."""
    now = timezone.now()
    stalled = BulkJob.objects.filter(state=BulkJobState.RUNNING, heartbeat_at__lte=now - stalled_after).filter(
        Q(next_step_at__isnull=True) | Q(next_step_at__lte=now)
    )
    job_ids = list(stalled.values_list("id", flat=True))
    for job_id in job_ids:
        run_bulk_job.delay(job_id)  # a duplicate runner is harmless: the cursor's compare-and-set stops it
    return job_ids


# --- progress -------------------------------------------------------------------------------------------


def progress(job: BulkJob) -> dict:
    return {
        "id": job.pk, "kind": job.kind, "state": job.state, "total": job.total, "done": job.done,
        "succeeded": job.succeeded, "skipped": job.skipped, "skips": job.summary,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def send_progress(job: BulkJob, *, force: bool = False) -> None:
    """Broadcast `job.progress` (a hint; pages resync from `status`), at most every PROGRESS_EVERY seconds."""
    now = time.monotonic()
    if not force and now - _last_progress.get(job.pk, 0.0) < PROGRESS_EVERY:
        return
    _last_progress[job.pk] = now
    broadcast.send(broadcast.DASHBOARD_GROUP, {"type": "job.progress", "job": progress(job)})


def affected(job: BulkJob) -> QuerySet[Contact]:
    """The contacts the job moved: tasks renotified and new callbacks, or the contacts it cancelled."""
    if job.kind == BulkJobKind.RESUBMIT:
        return Contact.objects.filter(pk__in=ResubmitClaim.objects.filter(job=job).values("result_id"))
    return Contact.objects.filter(pk__in=AuditEntry.objects.filter(job=job, action=AuditAction.CANCEL)
                                  .values("contact_id"))


def status(job: BulkJob) -> dict:
    """The job's progress, where the contacts it moved are now (by state and reason), and the first of them."""
    moved = affected(job)
    outcomes = moved.order_by().values("state", "reason").annotate(n=Count("id")).order_by("-n")
    items = moved.order_by("id").values("public_id", "name", "kind", "state", "reason")[:ITEMS_SHOWN]
    last_id = broadcast.latest_transition_id()
    return {**progress(job), "outcomes": list(outcomes), "items": list(items), "last_id": last_id}


# --- Celery -----------------------------------------------------------------------------------------------


@shared_task(name="contacts.workflows.run_bulk_job", autoretry_for=(OperationalError, InterfaceError),
             retry_backoff=True, retry_backoff_max=30, max_retries=5)
def run_bulk_job(job_id: int) -> None:
    """Run a bulk job for one slice (ids in; safe to run twice at once or again after a crash)."""
    run(job_id)


@shared_task(name="contacts.workflows.resume_bulk_jobs")
def resume_bulk_jobs() -> None:
    """Beat: restart the runners of jobs whose worker died. Not retried: the next run does the same."""
    resumed = resume_stalled()
    if resumed:
        log.info("resumed stalled bulk jobs %s", resumed)

