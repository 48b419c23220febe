"""contacts.workflows.jobs: bulk preview and jobs.

Jobs run in-process here (the throttle off, so no pacing) and, in `BulkJobWorkerTests`, in real Celery
workers: two overlapping jobs, and a job whose worker is killed midway and which a new worker finishes.
Those run on SQLite and PostgreSQL alike (`make test` with DATABASE_URL=postgres://... for the latter).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from contacts.cce.models import CceSettings, DialedNumber
from contacts.core import lifecycle
from contacts.core.lifecycle import Reason, Source, State
from contacts.core.models import Contact, FeedNotification
from contacts.live import broadcast
from contacts.workflows import actions
from contacts.workflows import jobs as workflows
from contacts.workflows.models import BulkJob, BulkJobKind, ResubmitClaim
from tests.polling import wait_for
from tests.workflow_support import MISSING, callback, client_for, discard, make_user, pair, seed, task

RESUBMIT, CANCEL = BulkJobKind.RESUBMIT, BulkJobKind.CANCEL
HANDLED = ("handled", "EXTERNALLY_HANDLED")
MISSING_FILTER = {"reason": MISSING}


def unthrottled() -> None:
    CceSettings.objects.update_or_create(pk=1, defaults={"throttle_per_minute": 0})


def run_job(kind: str, filters: dict, user, **kwargs) -> BulkJob:
    job = workflows.start(kind, filters, user=user, **kwargs)
    workflows.run(job.pk)
    job.refresh_from_db()
    return job


@pytest.fixture
def admin(db):
    unthrottled()
    return make_user("admin")


@pytest.mark.django_db
class BulkPreviewTests:
    def test_it_counts_the_discarded_contacts_not_yet_resubmitted_by_reason_and_queue(self, admin):
        seed()
        for _ in range(3):
            discard(task("Nope"))
        discard(task("Sales"), Reason.NO_SCRIPT)
        resubmitted = discard(callback())
        actions.resubmit(resubmitted, source=Source.DASHBOARD, user=admin)
        task("Nope")  # unread: not a candidate
        preview = workflows.preview(RESUBMIT, {})
        assert preview["count"] == 4
        assert {(r["reason"], r["n"]) for r in preview["by_reason"]} == {(MISSING, 3), (Reason.NO_SCRIPT, 1)}
        assert preview["oldest"] <= preview["newest"]
        assert preview["expected"]["fail"] == 3  # "Sales" exists now: that one would queue
        assert preview["expected"]["still_present"] == 3

    def test_it_applies_the_contact_list_s_filters(self, admin):
        discard(task("A")), discard(task("B"), Reason.NO_SCRIPT)
        assert workflows.preview(RESUBMIT, {"reason": Reason.NO_SCRIPT})["count"] == 1
        assert workflows.preview(RESUBMIT, {"kind": "callback"})["count"] == 0

    def test_it_says_when_it_samples_only_part_of_the_list(self, admin, monkeypatch):
        monkeypatch.setattr(workflows, "PREVIEW_SAMPLE", 2)
        for _ in range(3):
            discard(task())
        expected = workflows.preview(RESUBMIT, {})["expected"]
        assert (expected["sampled"], expected["capped"]) == (2, True)

    def test_it_counts_only_waiting_contacts_for_a_cancel(self, admin):
        task(), callback(), discard(task())
        preview = workflows.preview(CANCEL, {})
        assert preview["count"] == 2 and preview["expected"] is None

    def test_it_shows_the_preview_page_with_a_confirm_button(self, admin):
        discard(task())
        body = client_for("superuser").get("/contacts/bulk/resubmit?reason=" + MISSING).content.decode()
        assert 'id="preview-count">1<' in body and "Resubmit 1 contact" in body


    def test_it_offers_to_resubmit_only_those_whose_cause_is_gone_beside_all(self, admin):
        seed()
        for _ in range(3):
            discard(task("Nope"))
        discard(task("Sales"), Reason.NO_SCRIPT)  # "Sales" has its script now: that one would queue
        body = client_for("superuser").get("/contacts/bulk/resubmit").content.decode()
        assert 'name="only" value="cause_gone"' in body and "Resubmit the 1 whose cause is gone" in body
        assert 'class="warning" id="resubmit-all">Resubmit all 4, 3 to be discarded again' in body


    def test_a_single_resubmit_whose_cause_is_still_present_is_a_warning_that_says_so(self, admin):
        seed()
        still, gone = discard(task("Nope")), discard(task("Sales"), Reason.NO_SCRIPT)
        client = client_for("superuser")
        warned = client.get(f"/contacts/{still.public_id}").content.decode()
        assert 'class="button warning" id="resubmit-open"' in warned and "(the cause is still present)" in warned
        plain = client.get(f"/contacts/{gone.public_id}").content.decode()
        assert 'class="button" id="resubmit-open"' in plain and "still present)" not in plain


@pytest.mark.django_db
class BulkJobTests:
    def test_it_resubmits_only_the_contacts_whose_cause_is_gone_when_asked(self, admin):
        seed()
        still = [discard(task("Nope")) for _ in range(2)]
        gone = discard(task("Sales"), Reason.NO_SCRIPT)
        client = client_for("superuser")
        response = client.post("/contacts/bulk/resubmit/start", {"only": "cause_gone", "token": "t" * 32})
        job = BulkJob.objects.get(token="t" * 32)
        assert response.status_code == 302 and job.filters == {"only": "cause_gone"}
        workflows.run(job.pk)
        job.refresh_from_db()
        assert (job.done, job.succeeded, job.skipped) == (3, 1, 2)
        assert job.summary == {actions.Why.CAUSE_PRESENT: 2}
        assert pair(gone) == ("queued", "TASK_RENOTIFY_REQUESTED")
        assert all(pair(contact)[0] == "discarded" for contact in still)

    def test_it_resubmits_every_discarded_contact_of_the_list_once(self, admin):
        tasks = [discard(task()) for _ in range(3)]
        originals = [discard(callback()) for _ in range(2)]
        discard(task(), Reason.NO_SCRIPT)  # not in the filtered list
        job = run_job(RESUBMIT, MISSING_FILTER, admin, comment="DN created")
        assert (job.state, job.total, job.done, job.succeeded, job.skipped) == ("done", 5, 5, 5, 0)
        assert all(pair(t) == ("queued", "TASK_RENOTIFY_REQUESTED") for t in tasks)
        assert all(Contact.objects.filter(resubmitted_from=o).count() == 1 for o in originals)
        assert ResubmitClaim.objects.filter(job=job).count() == 5

    def test_it_does_nothing_twice_when_run_again(self, admin):
        discard(task())
        job = run_job(RESUBMIT, {}, admin)
        workflows.run(job.pk)
        assert Contact.objects.get().transitions.filter(rule="T9").count() == 1

    def test_it_leaves_what_another_job_already_resubmitted(self, admin):
        discard(callback()), discard(callback())
        first = workflows.start(RESUBMIT, {}, user=admin)
        second = workflows.start(RESUBMIT, {}, user=admin)
        workflows.run(first.pk), workflows.run(second.pk)
        second.refresh_from_db()
        assert (second.total, second.succeeded, second.state) == (2, 0, "done")
        assert Contact.objects.count() == 4

    def test_it_skips_a_contact_resubmitted_between_its_read_and_its_turn(self, admin):
        contact = discard(callback())
        job = workflows.start(RESUBMIT, {}, user=admin)
        actions.resubmit(contact, source=Source.DASHBOARD, user=admin)
        workflows.step(job, contact.pk)
        job.refresh_from_db()
        assert (job.succeeded, job.skipped, job.summary) == (0, 1, {actions.Why.ALREADY_RESUBMITTED: 1})

    def test_it_leaves_a_discard_made_after_it_started_alone(self, admin):
        contact = discard(task())
        job = workflows.start(RESUBMIT, {}, user=admin)
        actions.resubmit(contact, source=Source.DASHBOARD, user=admin)
        lifecycle.transition(contact, State.DISCARDED, MISSING, source=Source.CCE)  # T11, after the job started
        workflows.run(job.pk)
        job.refresh_from_db()
        assert (job.succeeded, job.skipped) == (0, 1)
        assert contact.transitions.filter(rule="T9").count() == 1

    def test_it_resumes_after_the_last_contact_it_committed(self, admin):
        contacts = [discard(task()) for _ in range(3)]
        job = workflows.start(RESUBMIT, {}, user=admin)
        workflows.step(job, contacts[0].pk)  # then the runner died
        workflows.run(job.pk)
        job.refresh_from_db()
        assert (job.done, job.succeeded) == (3, 3)
        assert all(c.transitions.filter(rule="T9").count() == 1 for c in contacts)

    def test_it_stops_a_second_runner_of_the_same_job(self, admin):
        first, second = discard(task()), discard(task())
        job = workflows.start(RESUBMIT, {}, user=admin)
        stale = BulkJob.objects.get(pk=job.pk)
        assert workflows.step(job, first.pk) is not None
        assert workflows.step(stale, second.pk) is None  # its cursor moved: the other runner carries on
        assert pair(second)[0] == "discarded"

    def test_it_cancels_every_waiting_contact_of_the_list(self, admin):
        waiting = [task(), callback()]
        done = discard(task())
        job = run_job(CANCEL, {}, admin)
        assert (job.total, job.succeeded) == (2, 2)
        assert {pair(c)[1] for c in waiting} == {Reason.TASK_CANCEL_REQUESTED, Reason.CALLBACK_CANCEL_REQUESTED}
        assert pair(done)[0] == "discarded"

    def test_it_starts_one_job_for_a_double_clicked_confirm(self, admin):
        discard(task())
        client = client_for("superuser")
        for _ in range(2):
            response = client.post("/contacts/bulk/resubmit/start", {"token": "a" * 32, "comment": "x"})
            assert response.status_code == 302
        assert BulkJob.objects.count() == 1

    def test_it_paces_resubmits_at_the_configured_share_of_the_throttle(self, admin, settings):
        CceSettings.objects.filter(pk=1).update(throttle_per_minute=120)
        settings.WORKFLOWS_BULK_SHARE = 0.5
        settings.CCE_THROTTLE_WINDOW_SECONDS = 60
        assert workflows.pace_interval(RESUBMIT) == 1.0
        assert workflows.pace_interval(CANCEL) == 0.0

    def test_a_paced_job_queues_its_next_step_with_a_countdown_instead_of_sleeping(self, admin, settings,
                                                                                   monkeypatch):
        for _ in range(3):
            discard(task())
        CceSettings.objects.filter(pk=1).update(throttle_per_minute=120)  # at 0.5: one resubmit a second
        settings.WORKFLOWS_BULK_SHARE = 0.5
        settings.CCE_THROTTLE_WINDOW_SECONDS = 60
        job = workflows.start(RESUBMIT, {}, user=admin)

        def no_sleeping(seconds: float) -> None:
            raise AssertionError(f"a bulk runner slept {seconds} s in its worker slot")

        queued = []
        monkeypatch.setattr(workflows.time, "sleep", no_sleeping)
        monkeypatch.setattr(workflows.run_bulk_job, "apply_async", lambda args, countdown: queued.append(countdown))
        workflows.run(job.pk)
        job.refresh_from_db()
        assert job.done == 1  # the first step was due at once; the second is a second away
        [countdown] = queued
        assert 0 < countdown <= 1.0

    def test_it_resumes_a_job_whose_runner_went_quiet(self, admin, monkeypatch):
        discard(task())
        job = workflows.start(RESUBMIT, {}, user=admin)
        queued = []
        monkeypatch.setattr(workflows.run_bulk_job, "delay", queued.append)
        assert workflows.resume_stalled() == []
        BulkJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
        assert workflows.resume_stalled() == [job.pk] and queued == [job.pk]

    def test_it_broadcasts_its_progress_and_reports_where_the_contacts_are(self, admin, monkeypatch,
                                                                          django_capture_on_commit_callbacks):
        sent = []
        monkeypatch.setattr(broadcast, "send", lambda group, message: sent.append(message))
        discard(task())
        job = workflows.start(RESUBMIT, {}, user=admin)
        with django_capture_on_commit_callbacks(execute=True):
            workflows.run(job.pk)
        progress = [m["job"] for m in sent if m["type"] == "job.progress"]
        assert progress[-1]["state"] == "done" and progress[-1]["succeeded"] == 1
        status = workflows.status(BulkJob.objects.get(pk=job.pk))
        assert [i["state"] for i in status["items"]] == ["queued"]


@pytest.mark.django_db
class BulkJobPageTests:
    def test_it_shows_the_job_and_its_status(self, admin):
        discard(task())
        job = run_job(RESUBMIT, {}, admin)
        client = client_for("superuser")
        assert "Finished" in client.get(f"/jobs/{job.pk}").content.decode()
        status = client.get(f"/jobs/{job.pk}/status").json()
        assert (status["state"], status["succeeded"], len(status["items"])) == ("done", 1, 1)
        assert f"#{job.pk}" in client.get("/jobs/").content.decode()


def start_over_http(client, filters: str = "") -> int:
    response = client.post(f"/contacts/bulk/resubmit/start?{filters}", {"comment": "bulk"})
    assert response.status_code == 302, response.content
    return int(response["Location"].rstrip("/").rsplit("/", 1)[1])


def make_lost_contacts(tasks: int, callbacks: int) -> tuple[list[Contact], list[Contact]]:
    """Contacts discarded for a missing script selector by a real worker, then the selector created."""
    seed()
    FeedNotification.objects.filter(feed_id=200).update(script_selector="Later")
    lost = [task("Later", name=f"t{i}") for i in range(tasks)], [callback(name=f"c{i}") for i in range(callbacks)]
    wait_for(lambda: Contact.objects.filter(state=State.DISCARDED).count() == tasks + callbacks, what="discards")
    sales = DialedNumber.objects.get(string="Sales")
    DialedNumber.objects.create(string="Later", mrd_id=1, script=sales.script)
    return lost


def assert_each_resubmitted_once(tasks: list[Contact], callbacks: list[Contact]) -> None:
    for contact in tasks:
        assert contact.transitions.filter(rule="T9").count() == 1
    counts = Contact.objects.filter(resubmitted_from__in=callbacks).values("resubmitted_from").annotate(n=Count("id"))
    assert sorted(row["n"] for row in counts) == [1] * len(callbacks)
    assert ResubmitClaim.objects.count() == len(tasks) + len(callbacks)


@pytest.mark.django_db(transaction=True)
class BulkJobWorkerTests:
    def test_it_resubmits_tasks_and_callbacks_until_they_are_handled(self, worker):
        tasks, callbacks = make_lost_contacts(3, 2)
        job_id = start_over_http(client_for("admin"), "reason=" + MISSING)
        wait_for(lambda: BulkJob.objects.get(pk=job_id).finished, what="the job to finish")
        new = list(Contact.objects.filter(resubmitted_from__in=callbacks))
        wait_for(lambda: all(pair(c) == HANDLED for c in tasks + new), what="all handled")
        assert_each_resubmitted_once(tasks, callbacks)

    def test_it_resubmits_each_contact_once_when_two_jobs_overlap(self, start_worker):
        start_worker(concurrency=2)
        tasks, callbacks = make_lost_contacts(6, 4)
        CceSettings.objects.filter(pk=1).update(throttle_per_minute=600)  # at 0.5: one resubmit each 0.2 s
        client = client_for("admin")
        job_ids = [start_over_http(client), start_over_http(client)]
        wait_for(lambda: all(BulkJob.objects.get(pk=pk).finished for pk in job_ids), what="both jobs to finish")
        jobs = list(BulkJob.objects.filter(pk__in=job_ids))
        assert min(job.finished_at for job in jobs) > max(job.created_at for job in jobs)  # they did overlap
        assert sum(job.succeeded for job in jobs) == 10
        assert_each_resubmitted_once(tasks, callbacks)

    def test_it_finishes_without_duplicates_after_its_worker_is_killed(self, start_worker, kill_worker):
        first = start_worker(beat=True)
        tasks, callbacks = make_lost_contacts(8, 2)
        CceSettings.objects.filter(pk=1).update(throttle_per_minute=480)  # at 0.5: one resubmit each 0.25 s
        job_id = start_over_http(client_for("admin"))
        wait_for(lambda: 2 <= BulkJob.objects.get(pk=job_id).done, what="the job to get going")
        kill_worker(first)
        assert not BulkJob.objects.get(pk=job_id).finished
        start_worker(beat=False)
        workflows.resume_stalled(stalled_after=timedelta(0))  # as beat's resume_bulk_jobs does once it is stale
        wait_for(lambda: BulkJob.objects.get(pk=job_id).finished, what="the job to finish after the restart")
        job = BulkJob.objects.get(pk=job_id)
        assert (job.done, job.succeeded) == (10, 10)
        assert_each_resubmitted_once(tasks, callbacks)
