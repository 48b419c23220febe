"""Celery's view of the app: every task under the name it had before the packages were split."""

from __future__ import annotations

from django.conf import settings

from ccpdash.celery import app

# Names already in queues and in beat schedules of running installations; a module move must keep them.
PINNED = {
    "contacts.tasks.submit_contact",
    "contacts.tasks.drain_backlog",
    "contacts.tasks.route_mrd",
    "contacts.tasks.cancel_contact",
    "contacts.tasks.renotify_contact",
    "contacts.tasks.sweep_due",
    "contacts.tasks.reconcile",
    "contacts.broadcast.send_heartbeat",
    "contacts.queue_alerts.check_queue_alerts",
    "contacts.retention.purge_finished_contacts",
    "contacts.workflows.run_bulk_job",
    "contacts.workflows.resume_bulk_jobs",
    "contacts.figures.fold_tallies",
    "contacts.figures.check_tallies",
    "contacts.notify.send_delivery",
    "contacts.notify.check_notifications",
    "contacts.notify.purge_deliveries",
}


class CeleryTaskNameTests:
    def test_it_registers_every_task_under_its_pinned_name(self) -> None:
        app.loader.import_default_modules()  # what a worker does at start: autodiscover contacts.tasks
        ours = {name for name in app.tasks if name.startswith("contacts.")}
        assert ours == PINNED

    def test_it_schedules_only_registered_tasks(self) -> None:
        app.loader.import_default_modules()
        assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= set(app.tasks)
