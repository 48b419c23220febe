"""Celery's three queues: live work, beat's periodic work and bulk jobs, each served by the workers that name it.

The routes and the command lines are checked directly; the worker test shows the point of the split: a
sweep runs on its own worker while the live queue holds 5,000 messages nobody has got to yet.
"""

from __future__ import annotations

import shlex
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from ccpdash import processes
from ccpdash.celery import app
from contacts.cce import tasks
from contacts.cce.models import Agent, MediaRoutingDomain
from contacts.core import lifecycle
from contacts.core.lifecycle import Reason, Source, State
from contacts.core.models import Contact, Feed, FeedType
from tests.polling import wait_for

LIVE_TASKS = (
    "contacts.tasks.submit_contact", "contacts.tasks.drain_backlog", "contacts.tasks.cancel_contact",
    "contacts.tasks.renotify_contact",
)
BACKLOG = 5_000


def queue_of(task_name: str) -> str:
    app.loader.import_default_modules()
    return app.amqp.router.route({}, task_name)["queue"].name


def waiting_in(queue: str) -> int:
    """Messages in a queue's Redis list (the transport's client adds the run's key prefix)."""
    with app.connection_for_write() as connection:
        return connection.default_channel.client.llen(queue)


class QueueRouteTests:
    def test_every_periodic_task_goes_to_the_periodic_queue(self) -> None:
        for entry in settings.CELERY_BEAT_SCHEDULE.values():
            assert queue_of(entry["task"]) == settings.PERIODIC_QUEUE, entry

    def test_a_contacts_next_step_goes_to_the_live_queue(self) -> None:
        for name in LIVE_TASKS:
            assert queue_of(name) == settings.LIVE_QUEUE, name

    def test_routing_passes_go_to_the_routing_queue(self) -> None:
        assert queue_of("contacts.tasks.route_mrd") == settings.ROUTING_QUEUE

    def test_bulk_jobs_go_to_the_bulk_queue(self) -> None:
        assert queue_of("contacts.workflows.run_bulk_job") == settings.BULK_QUEUE

    def test_the_queues_are_this_runs_own(self) -> None:
        # Prefixed like every key of the run, so a test run never takes a `make run` worker's messages.
        queues = {queue.name for queue in app.amqp.queues.values()}
        assert queues == {settings.LIVE_QUEUE, settings.ROUTING_QUEUE, settings.PERIODIC_QUEUE, settings.BULK_QUEUE}
        assert all(name.startswith(f"{settings.REDIS_PREFIX}-") for name in queues)


def procfile_command(process: str) -> list[str]:
    line = next(line for line in Path(settings.BASE_DIR, "Procfile").read_text().splitlines()
                if line.startswith(f"{process}:"))
    return shlex.split(line.removeprefix(f"{process}:").replace("${REDIS_PREFIX:-ccpdash}", settings.REDIS_PREFIX))


class WorkerCommandTests:
    def test_the_live_worker_serves_live_routing_and_bulk_work_only(self) -> None:
        command = processes.worker()
        served = command[command.index("-Q") + 1].split(",")
        assert served == [settings.LIVE_QUEUE, settings.ROUTING_QUEUE, settings.BULK_QUEUE]

    def test_the_periodic_worker_serves_the_periodic_queue_only(self) -> None:
        command = processes.periodic_worker()
        assert command[command.index("-Q") + 1] == settings.PERIODIC_QUEUE

    def test_the_procfile_starts_the_same_workers(self) -> None:
        for process, command in (("worker", processes.worker()), ("periodic", processes.periodic_worker())):
            assert procfile_command(process) == [Path(command[0]).name, *command[1:]], process


def fill_live_queue() -> None:
    """BACKLOG submit messages waiting in the live queue, which no worker of the test serves."""
    with app.connection_for_write() as connection:
        # As a live worker declares it at start: without the queue's binding Redis drops the messages.
        app.amqp.queues[settings.LIVE_QUEUE].bind(connection.default_channel).declare()
    with app.producer_or_acquire() as producer:
        for _ in range(BACKLOG):
            tasks.submit_contact.apply_async((0,), producer=producer)  # for no contact: a no-op each
    assert waiting_in(settings.LIVE_QUEUE) >= BACKLOG


@pytest.mark.django_db(transaction=True)
class PeriodicWorkerTests:
    def test_a_sweep_runs_while_the_live_queue_holds_thousands_of_messages(self, start_worker) -> None:
        mrd = MediaRoutingDomain.objects.create(id=5000, name="Sales")
        feed = Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK)
        # Only beat's queue is served: every live message stays where it is, and nothing waits behind them.
        start_worker(beat=True, queues=settings.PERIODIC_QUEUE)
        fill_live_queue()
        contact = lifecycle.create("task", feed, name="Ada", title="Order 4711", script_selector="Sales")
        # Queued at the CCE with its task life already over: the next sweep discards it (T5).
        lifecycle.transition(contact, State.QUEUED, Reason.EXTERNALLY_ROUTED, source=Source.CCE,
                             changes={"cce_mrd_id": mrd.id, "due_at": timezone.now() - timedelta(seconds=1)})
        wait_for(lambda: Contact.objects.get(pk=contact.pk).pair == (State.DISCARDED, Reason.ROUTER_RELEASED_TASK),
                 timeout=60)
        assert waiting_in(settings.LIVE_QUEUE) >= BACKLOG

    def test_a_routing_pass_runs_while_the_live_queue_holds_thousands_of_messages(self, start_worker) -> None:
        mrd = MediaRoutingDomain.objects.create(id=5000, name="Sales")
        Agent.objects.create(name="Ada", agent_id="1", mrd=mrd, ready=True, max_concurrent=1,
                             handle_time_min=300, handle_time_max=300)
        feed = Feed.objects.create(id=100, name="Web tasks", type=FeedType.TASK)
        start_worker(beat=False, queues=settings.ROUTING_QUEUE)
        fill_live_queue()
        contact = lifecycle.create("task", feed, name="Ada", title="Order 4711", script_selector="Sales")
        # Joining the queue marks the MRD due and sends its routing pass (contacts.cce.followups).
        lifecycle.transition(contact, State.QUEUED, Reason.EXTERNALLY_ROUTED, source=Source.CCE,
                             changes={"cce_mrd_id": mrd.id})
        wait_for(lambda: Contact.objects.get(pk=contact.pk).state == State.RESERVED, timeout=60)
        assert waiting_in(settings.LIVE_QUEUE) >= BACKLOG
