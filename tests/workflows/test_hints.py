"""Work started after commit when Redis is down, and a bulk start clicked twice at once.

Every message sent after commit is a hint (`contacts.core.hints`): with the broker refusing, the data that
committed stays committed, the page answers as usual and the periodic work sends the message later. Two
confirms of one bulk preview released together on two PostgreSQL connections start one job.
"""

from __future__ import annotations

import threading

import pytest
from celery.app.task import Task
from django.db import connection
from kombu.exceptions import OperationalError as BrokerDown

from contacts.cce import routing
from contacts.cce.models import Agent, MediaRoutingDomain
from contacts.workflows import jobs as workflows
from contacts.workflows.models import BulkJob, BulkJobKind
from tests.workflow_support import MISSING, client_for, discard, make_user, seed, task


@pytest.fixture
def broker_down(monkeypatch):
    """Every task message refused as when Redis is unreachable; counts the attempts."""
    attempts = []

    def refuse(self, *args, **kwargs):
        attempts.append(self.name)
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", refuse)
    return attempts


@pytest.mark.django_db
class BrokerDownTests:
    def test_a_bulk_start_answers_as_usual_and_keeps_its_job(self, broker_down, django_capture_on_commit_callbacks):
        seed()
        discard(task())
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for("admin").post("/contacts/bulk/resubmit/start", {"token": "b" * 32, "comment": ""})
        assert response.status_code == 302
        assert BulkJob.objects.filter(token="b" * 32).exists()
        assert broker_down == ["contacts.workflows.run_bulk_job"]  # tried, failed, logged: resume_bulk_jobs retries

    def test_routing_is_asked_for_every_mrd_though_each_request_fails(self, broker_down,
                                                                       django_capture_on_commit_callbacks):
        seed()
        mrds = list(MediaRoutingDomain.objects.values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=True):  # as the sweep asks, one MRD after another
            for mrd_id in mrds:
                routing.force_route_after_commit(mrd_id)
        assert broker_down == ["contacts.tasks.route_mrd"] * len(mrds)  # one failure did not stop the others

    def test_an_admin_save_that_asks_for_routing_still_saves(self, broker_down, django_capture_on_commit_callbacks):
        seed()
        agent = Agent.objects.filter(ready=True).first()
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for("superuser").post(
                f"/admin/contacts/agent/{agent.pk}/change/",
                {"name": agent.name, "agent_id": agent.agent_id, "mrd": agent.mrd_id, "max_concurrent": 4,
                 "ready": "on", "handle_time_min": agent.handle_time_min, "handle_time_max": agent.handle_time_max},
            )
        assert response.status_code == 302, response.content[:2000]
        agent.refresh_from_db()
        assert (agent.max_concurrent, agent.ready) == (4, True)
        assert broker_down == ["contacts.tasks.route_mrd"]  # a ready agent asks for routing of its MRD


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class BulkStartRaceTests:
    def test_two_confirms_released_together_start_one_job(self, monkeypatch):
        seed()
        admin = make_user("admin")
        discard(task())
        both_past_the_check = threading.Barrier(2, timeout=10)
        count_targets = workflows.targets

        def targets_after_both_checked(*args, **kwargs):
            both_past_the_check.wait()  # each has looked for the token and found none
            return count_targets(*args, **kwargs)

        monkeypatch.setattr(workflows, "targets", targets_after_both_checked)
        monkeypatch.setattr(Task, "apply_async", lambda *args, **kwargs: None)
        started, failed = [], []

        def confirm() -> None:
            try:
                started.append(workflows.start(BulkJobKind.RESUBMIT, {"reason": MISSING}, user=admin,
                                               token="c" * 32).pk)
            except Exception as error:  # the test reports it below
                failed.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=confirm) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failed == []
        assert len(set(started)) == 1 and BulkJob.objects.count() == 1
