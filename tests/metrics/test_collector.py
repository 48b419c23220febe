"""The database's figures in /metrics: every catalogue figure per MRD equal to the dashboard's `queue_figures()`,
contacts in play, today's discards by code, the Celery queues, and a scrape whose query count does not grow.

The figures' test helpers (tests/figures/test_compute.py) build the data; their clock is moved to now, as a scrape
reads the figures at the real time.
"""

from __future__ import annotations

import pytest
from celery import current_app
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.core.lifecycle import CANCEL_SUCCEEDED, DISCARD_REASONS, IN_PLAY_STATES, Kind, Reason, State
from contacts.core.models import Contact
from contacts.figures import catalogue
from contacts.figures.compute import queue_figures
from contacts.metrics.collector import QUEUES, metric_name
from tests.figures import test_compute as figures
from tests.figures.test_compute import config  # noqa: F401 - the figures' configuration: feeds 100, 200 and MRDs 1, 2
from tests.metrics.support import scrape, series_of, value

pytestmark = pytest.mark.usefixtures("config", "scraper_allowed")


@pytest.fixture
def world(monkeypatch) -> dict[str, Contact]:
    """In MRD 1 a task waiting two minutes, an answer within its 20 s and a cancel; in MRD 2 a callback waiting, a
    callback answered after 100 s (past its 60 s) and a task released by the router; unknown: a discard before
    submission and the throttle's backlog of two; a ready agent per MRD, MRD 1's holding one of its two slots (by
    a task answered within 10 s)."""
    monkeypatch.setattr(figures, "NOW", timezone.now())
    ago = figures.ago
    made = {"longest": figures.queued(1, ago(120))}
    figures.answered(1, ago(300), ago(290))
    figures.cancelled(figures.queued(1, ago(100)), ago(90), ago(80))
    figures.queued(2, ago(30), kind="callback")
    figures.answered(2, ago(300), ago(200), kind="callback")
    figures.move(figures.queued(2, ago(60)), State.DISCARDED, Reason.ROUTER_RELEASED_TASK, ago(40))
    figures.move(figures.new(), State.DISCARDED, Reason.NO_SCRIPT, ago(50))
    figures.new()
    figures.new("callback")
    figures.hold(figures.agent(1, "1001", slots=2))
    figures.agent(2, "2001", slots=1)
    return made


class FigureTests:
    def test_it_serves_every_figure_of_the_catalogue_per_mrd_as_the_dashboard_computes_it(self, client, world):
        before = queue_figures()
        samples = scrape(client)
        rows = queue_figures()
        for figure in catalogue.FIGURES:
            if not figure.per_mrd:
                continue
            for bucket in (1, 2, catalogue.UNKNOWN_MRD):
                scraped = value(samples, metric_name(figure), mrd=str(bucket))
                if figure.key == "longest_wait":  # seconds tick between the reads: the scrape lies between them
                    low, high = before[bucket][figure.key], rows[bucket][figure.key]
                    assert scraped is None if low is None else low <= scraped <= high, bucket
                else:
                    assert scraped == rows[bucket][figure.key], (figure.key, bucket)

    def test_it_shows_the_constructed_queues(self, client, world):
        samples = scrape(client)
        assert value(samples, "ccpdash_waiting_contacts", mrd="1") == value(samples, "ccpdash_waiting_contacts",
                                                                            mrd="2") == 1  # fmt: skip
        # Two minutes before the world was built, plus the time since (seconds on a loaded machine).
        elapsed = (timezone.now() - figures.NOW).total_seconds()
        assert 120 <= value(samples, "ccpdash_longest_wait_seconds", mrd="1") <= 121 + elapsed
        # A task answered is reserved, not handled; a callback answered is handled.
        assert value(samples, "ccpdash_handled_contacts_today", mrd="1") == 0
        assert value(samples, "ccpdash_handled_contacts_today", mrd="2") == 1
        # MRD 1: two answers within 20 s, and a cancel, left its queue; MRD 2: a late answer and a release.
        assert value(samples, "ccpdash_left_queue_contacts_today", mrd="1") == 3
        assert value(samples, "ccpdash_answered_in_threshold_contacts_today", mrd="1") == 2
        assert value(samples, "ccpdash_service_level_ratio_today", mrd="1") == pytest.approx(2 / 3)
        assert value(samples, "ccpdash_service_level_ratio_today", mrd="2") == 0
        assert value(samples, "ccpdash_cancelled_contacts_today", mrd="1") == 1
        assert value(samples, "ccpdash_discarded_contacts_today", mrd="2") == 1
        assert value(samples, "ccpdash_discarded_contacts_today", mrd=catalogue.UNKNOWN_MRD) == 1
        assert value(samples, "ccpdash_ready_agents", mrd="1") == value(samples, "ccpdash_ready_agents", mrd="2") == 1
        assert value(samples, "ccpdash_free_slots", mrd="1") == value(samples, "ccpdash_free_slots", mrd="2") == 1

    def test_it_leaves_out_a_figure_that_has_no_value(self, client, world):
        samples = scrape(client)
        assert value(samples, "ccpdash_longest_wait_seconds", mrd=catalogue.UNKNOWN_MRD) is None  # nobody waits there
        assert value(samples, "ccpdash_service_level_ratio_today", mrd=catalogue.UNKNOWN_MRD) is None

    def test_it_reports_the_throttle_backlog_once_for_the_contact_center(self, client, world):
        samples = scrape(client)
        assert series_of(samples, "ccpdash_backlog_contacts") == {(): 2}
        assert queue_figures()[catalogue.TOTAL]["backlog"] == 2

    def test_it_names_each_series_after_its_figure_with_its_unit_and_window(self):
        names = {figure.key: metric_name(figure) for figure in catalogue.FIGURES}
        assert names["waiting"] == "ccpdash_waiting_contacts"
        assert names["longest_wait"] == "ccpdash_longest_wait_seconds"
        assert names["service_level"] == "ccpdash_service_level_ratio_today"
        assert names["ready_agents"] == "ccpdash_ready_agents"
        assert len(set(names.values())) == len(names)


class ContactsInPlayTests:
    def test_it_counts_unfinished_contacts_by_kind_state_and_mrd(self, client, world):
        expected = {("task", "queued", "1"): 1, ("task", "reserved", "1"): 2, ("callback", "queued", "2"): 1,
                    ("task", "unread", "unknown"): 1, ("callback", "unread", "unknown"): 1}  # fmt: skip
        counted = {(dict(labels)["kind"], dict(labels)["state"], dict(labels)["mrd"]): count
                   for labels, count in series_of(scrape(client), "ccpdash_contacts").items()}  # fmt: skip
        assert {key: count for key, count in counted.items() if count} == expected
        # Every (kind, in-play state, MRD) has a series, so a graph does not vanish when a queue empties.
        assert len(counted) == len(Kind.values) * len(IN_PLAY_STATES) * 3


class DiscardTests:
    def test_it_counts_todays_discards_by_mrd_and_code(self, client, world):
        discards = series_of(scrape(client), "ccpdash_discards_today")
        counted = {(dict(labels)["mrd"], dict(labels)["reason"]): count for labels, count in discards.items() if count}
        assert counted == {("1", Reason.TASK_CANCEL_SUCCEEDED): 1, ("2", Reason.ROUTER_RELEASED_TASK): 1,
                           ("unknown", Reason.NO_SCRIPT): 1}  # fmt: skip
        assert len(discards) == 3 * len(DISCARD_REASONS)

    def test_its_codes_add_up_to_the_discarded_and_cancelled_figures(self, client, world):
        discards = series_of(scrape(client), "ccpdash_discards_today")
        rows = queue_figures()
        for bucket in (1, 2, catalogue.UNKNOWN_MRD):
            mine = {dict(labels)["reason"]: count for labels, count in discards.items()
                    if dict(labels)["mrd"] == str(bucket)}  # fmt: skip
            assert sum(count for reason, count in mine.items() if reason not in CANCEL_SUCCEEDED) == rows[bucket][
                "discarded"]  # fmt: skip
            assert sum(mine[reason] for reason in CANCEL_SUCCEEDED) == rows[bucket]["cancelled"]


def purge_queues() -> None:
    with current_app.connection_for_write() as broker:
        for name in QUEUES:
            broker.default_channel.queue_purge(getattr(settings, name))


class CeleryQueueTests:
    def test_it_reads_each_queues_depth_from_the_broker(self, client):
        # Earlier tests leave messages no worker took (their contacts' submits): start from empty queues.
        purge_queues()
        current_app.send_task("contacts.figures.fold_tallies", queue=settings.PERIODIC_QUEUE)
        current_app.send_task("contacts.figures.fold_tallies", queue=settings.PERIODIC_QUEUE)
        try:
            samples = scrape(client)
        finally:
            purge_queues()
        assert value(samples, "ccpdash_celery_broker_up") == 1
        depths = {dict(labels)["queue"]: count for labels, count in series_of(samples,
                                                                              "ccpdash_celery_queue_messages").items()}
        assert depths == {getattr(settings, name): 2 if name == "PERIODIC_QUEUE" else 0 for name in QUEUES}

    def test_it_says_the_broker_is_down_and_still_serves_the_figures(self, client, monkeypatch):
        monkeypatch.setattr(current_app.conf, "broker_url", "redis://127.0.0.1:9/0")  # nothing listens there
        samples = scrape(client)
        assert value(samples, "ccpdash_celery_broker_up") == 0
        assert series_of(samples, "ccpdash_celery_queue_messages") == {}
        assert value(samples, "ccpdash_ready_agents", mrd="1") == 0


class QueryCountTests:
    def test_a_scrape_makes_the_same_queries_for_100_and_10000_contacts(self, client):
        for mrd_id in (1, 2):
            figures.agent(mrd_id, f"{mrd_id}001", slots=2)
        counts, in_play = [], []
        for size in (100, 10_000):
            Contact.objects.all().delete()
            figures.bulk(size)
            with CaptureQueriesContext(connection) as queries:
                samples = scrape(client)
            counts.append(len(queries))
            in_play.append(sum(series_of(samples, "ccpdash_contacts").values()))
        assert counts[0] == counts[1]
        assert in_play == [60, 6000]  # bulk() cycles five positions, three of them in play
