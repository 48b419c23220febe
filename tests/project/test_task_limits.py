"""Celery's limits on every task: time limits from settings, and a cap on redeliveries of one message."""

from __future__ import annotations

from uuid import uuid4

import pytest

from ccpdash.celery import app
from contacts.cce import actions, tasks


def test_every_task_has_time_limits_and_a_timed_out_task_is_not_redelivered():
    conf = app.conf
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.task_acks_on_failure_or_timeout


@pytest.mark.django_db
def test_a_message_whose_worker_keeps_dying_runs_at_most_the_cap(settings, monkeypatch):
    """A redelivered message has the same id and retry number: past the cap it is acked without running."""
    runs: list[int] = []
    monkeypatch.setattr(actions, "submit", runs.append)
    settings.CELERY_TASK_MAX_DELIVERIES = 3
    message = f"test-{uuid4()}"
    for _ in range(5):
        tasks.submit_contact.apply(args=[7], task_id=message)
    assert runs == [7, 7, 7]
    tasks.submit_contact.apply(args=[7], task_id=message, retries=1)  # a retry is a new message
    assert runs == [7, 7, 7, 7]
    tasks.submit_contact.apply(args=[8], task_id=f"test-{uuid4()}")  # other messages are not affected
    assert runs == [7, 7, 7, 7, 8]
