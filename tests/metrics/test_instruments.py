"""The per-process instruments in /metrics: committed moves, requests and their latency, open sockets, broadcast
latency, summed over every process of the host (prometheus-client's multi-process files), exited ones included.

Counters are shared by the whole test run, so each test compares a scrape after with one before.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.test import Client

from contacts.core import lifecycle
from contacts.core.lifecycle import Reason, Source, State
from contacts.core.models import Contact, Feed, FeedType
from tests.live.support import receive_message
from tests.live.test_consumers import create_task, open_socket, supervisor_cookie  # noqa: F401 - a fixture
from tests.metrics.support import scrape, value

pytestmark = pytest.mark.usefixtures("scraper_allowed")


def transitions(samples, rule: str, source: str) -> float:
    return value(samples, "ccpdash_transitions_total", rule=rule, source=source) or 0


def new_task() -> Contact:
    feed, _ = Feed.objects.get_or_create(id=100, defaults={"name": "tasks", "type": FeedType.TASK})
    return lifecycle.create("task", feed, name="Ada", title="Order")


@pytest.mark.django_db
class TransitionTests:
    def test_it_counts_each_committed_move_by_rule_and_source(self, client, django_capture_on_commit_callbacks):
        before = scrape(client)
        with django_capture_on_commit_callbacks(execute=True):
            contact = new_task()
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.transition(contact, State.QUEUED, Reason.EXTERNALLY_ROUTED, source=Source.CCE,
                                 changes={"cce_mrd_id": 1})
        after = scrape(client)
        assert transitions(after, "T1", Source.API) - transitions(before, "T1", Source.API) == 1
        assert transitions(after, "T2", Source.CCE) - transitions(before, "T2", Source.CCE) == 1

    def test_it_counts_every_move_of_a_batch(self, client, django_capture_on_commit_callbacks):
        contacts = [new_task() for _ in range(3)]
        before = scrape(client)
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.transition_many(contacts, State.DISCARDED, Reason.RATE_LIMITED, source=Source.WORKER)
        assert transitions(scrape(client), "T5", Source.WORKER) - transitions(before, "T5", Source.WORKER) == 3

    def test_it_never_counts_a_move_that_was_rolled_back(self, client, django_capture_on_commit_callbacks):
        before = scrape(client)
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            new_task()
            transaction.set_rollback(True)
        assert transitions(scrape(client), "T1", Source.API) == transitions(before, "T1", Source.API)


@pytest.mark.django_db
class RequestTests:
    def test_it_counts_and_times_a_request_by_the_name_of_its_route(self, client):
        series = {"route": "api-rest-task-contact", "method": "GET", "status": "404"}
        before = scrape(client)
        Client().get("/ccp/rest/task/contact/abc123")  # nobody's id: its route matched, its view answered 404
        after = scrape(client)
        assert value(after, "ccpdash_http_requests_total", **series) - (
            value(before, "ccpdash_http_requests_total", **series) or 0) == 1  # fmt: skip
        count = "ccpdash_http_request_duration_seconds_count"
        timed = {"route": "api-rest-task-contact", "method": "GET"}
        assert value(after, count, **timed) - (value(before, count, **timed) or 0) == 1

    def test_it_puts_paths_that_match_no_route_in_one_series(self, client):
        before = scrape(client)
        Client().get("/no/such/page/1")
        Client().get("/no/such/page/2")
        after = scrape(client)
        series = {"route": "unmatched", "method": "GET", "status": "404"}
        assert value(after, "ccpdash_http_requests_total", **series) - (
            value(before, "ccpdash_http_requests_total", **series) or 0) == 2  # fmt: skip

    def test_it_counts_an_unknown_method_as_other(self, client):
        before = scrape(client)
        Client().generic("BREW", "/healthz")
        series = {"route": "contacts-healthz", "method": "other", "status": "405"}
        assert value(scrape(client), "ccpdash_http_requests_total", **series) - (
            value(before, "ccpdash_http_requests_total", **series) or 0) == 1  # fmt: skip


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
class LiveTests:
    @pytest.mark.asyncio
    async def test_it_counts_open_sockets_and_the_latency_of_a_moves_broadcast(self, supervisor_cookie):  # noqa: F811
        client = Client()
        read = sync_to_async(scrape)
        before = await read(client)
        communicator, connected = await open_socket(supervisor_cookie)
        assert connected
        await sync_to_async(create_task)()
        assert (await receive_message(communicator))["type"] == "event"
        during = await read(client)
        await communicator.disconnect()
        after = await read(client)
        assert value(during, "ccpdash_open_websockets") - value(before, "ccpdash_open_websockets") == 1
        assert value(after, "ccpdash_open_websockets") == value(before, "ccpdash_open_websockets")
        count = "ccpdash_broadcast_latency_seconds_count"
        assert value(during, count, type="contact.event") - (value(before, count, type="contact.event") or 0) >= 1


def run_exited_process(code: str) -> None:
    """Run `code` in a process of its own that shares the run's metrics directory, and wait for it to exit."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(settings.PROMETHEUS_MULTIPROC_DIR)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


@pytest.mark.django_db
class ProcessTests:
    def test_it_sums_the_counts_of_the_hosts_other_processes_exited_ones_included(self, client):
        before = transitions(scrape(client), "T4", Source.WORKER)
        run_exited_process("import prometheus_client as p\n"
                           "p.Counter('ccpdash_transitions', '', ['rule', 'source'], registry=None)"
                           ".labels('T4', 'worker').inc(5)")  # fmt: skip
        assert transitions(scrape(client), "T4", Source.WORKER) - before == 5

    def test_it_forgets_the_open_sockets_of_a_process_that_exited(self, client):
        before = value(scrape(client), "ccpdash_open_websockets")
        run_exited_process("import prometheus_client as p\n"
                           "p.Gauge('ccpdash_open_websockets', '', registry=None, multiprocess_mode='livesum').inc(3)")
        assert list(settings.PROMETHEUS_MULTIPROC_DIR.glob("gauge_livesum_*.db"))  # a crash leaves its file behind
        assert value(scrape(client), "ccpdash_open_websockets") == before
