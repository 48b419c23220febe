"""The KPI panel: the catalogue's figures per MRD and in total, their levels against the admin's thresholds, and
one definition of each figure wherever the page, the charts, the CSV and /metrics show it.

The world is the metrics tests' (tests/metrics/test_collector.py `world`): in MRD 1 a task waiting two
minutes, an answer within 20 s and a cancel; in MRD 2 a callback waiting, a late answer and a release;
outside any MRD a discard before submission and the throttle's backlog of two.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone

from contacts.alerts.models import QueueAlertRule
from contacts.core import permissions as roles
from contacts.core.lifecycle import CANCEL_SUCCEEDED, State
from contacts.core.models import Contact
from contacts.dashboard import charts, kpis, overview
from contacts.dashboard.export import csv_chunks
from contacts.figures import catalogue
from contacts.figures.compute import queue_figures
from contacts.figures.models import MoveTally
from tests.figures.test_compute import config  # noqa: F401 - feeds 100, 200 and MRDs 1, 2
from tests.metrics.conftest import scraper_allowed  # noqa: F401 - /metrics answers the test client
from tests.metrics.support import scrape, value
from tests.metrics.test_collector import world  # noqa: F401 - the constructed queues

pytestmark = pytest.mark.usefixtures("config", "world", "scraper_allowed")


def panel() -> dict:
    return overview.overview()["kpis"]


def row_of(data: dict, mrd) -> dict:
    return next(row for row in data["rows"] if row["mrd"] == mrd)


class PanelTests:
    def test_it_shows_the_catalogues_figures_per_mrd_and_in_total(self):
        data, rows = panel(), queue_figures()
        assert [figure["key"] for figure in data["figures"]] == list(kpis.TOTAL_KEYS)
        assert {figure["key"]: figure["label"] for figure in data["figures"]}["waiting"] == "Contacts waiting"
        for mrd in (1, 2):
            figures = row_of(data, mrd)["figures"]
            for key in kpis.KEYS:
                if key != "longest_wait":  # seconds tick between the two reads
                    assert figures[key]["value"] == rows[mrd][key], (mrd, key)
        assert data["total"]["figures"]["backlog"]["value"] == rows[catalogue.TOTAL]["backlog"] == 2
        # MRD 1: two answers within 20 s, and a cancel, left its queue.
        assert row_of(data, 1)["figures"]["service_level"]["text"] == "67 %"
        assert row_of(data, 1)["figures"]["longest_wait"]["text"].startswith("2m")

    def test_it_links_the_longest_wait_to_its_contact_and_the_counts_to_the_list(self, request):
        longest = request.getfixturevalue("world")["longest"]
        figures = row_of(panel(), 1)["figures"]
        assert figures["longest_wait"]["url"] == f"/contacts/{longest.public_id}"
        assert figures["waiting"]["url"] == "/contacts/?state=queued&mrd=1"
        assert panel()["total"]["figures"]["backlog"]["url"] == "/contacts/?state=unread"

    def test_it_shows_the_unknown_mrds_in_one_row_only_when_something_counts_there(self):
        data = panel()
        assert [row["label"] for row in data["rows"]] == ["MRD 1", "MRD 2", "No configured MRD"]
        assert row_of(data, catalogue.UNKNOWN_MRD)["figures"]["discarded"]["value"] == 1
        # Today's discard there still counts after its contact is gone (a move, not a position) ...
        Contact.objects.filter(cce_mrd_id__isnull=True).delete()
        assert [row["label"] for row in panel()["rows"]] == ["MRD 1", "MRD 2", "No configured MRD"]
        # ... and without it nothing counts there: no row.
        MoveTally.objects.filter(mrd_id__isnull=True).delete()
        assert [row["label"] for row in panel()["rows"]] == ["MRD 1", "MRD 2"]


class LevelTests:
    def rule(self, mrd_id: int, **thresholds) -> QueueAlertRule:
        return QueueAlertRule.objects.create(mrd_id=mrd_id, **thresholds)

    def test_it_is_ok_without_a_rule(self):
        assert {figure["level"] for figure in row_of(panel(), 1)["figures"].values()} == {"ok"}

    @pytest.mark.parametrize(
        ("thresholds", "level"),
        [
            ({"warn_oldest_seconds": 60, "max_oldest_seconds": 600}, "amber"),
            ({"warn_oldest_seconds": 60, "max_oldest_seconds": 100}, "red"),
            ({"warn_oldest_seconds": 600, "max_oldest_seconds": 900}, "ok"),
            ({"max_oldest_seconds": 100}, "red"),
        ],
    )
    def test_it_colours_the_longest_wait_amber_from_the_amber_level_and_red_past_the_alert(self, thresholds, level):
        self.rule(1, **thresholds)
        assert row_of(panel(), 1)["figures"]["longest_wait"]["level"] == level

    def test_it_colours_the_contacts_waiting_red_above_the_alert_threshold_as_the_alert_does(self):
        self.rule(1, warn_queued=1, max_queued=1)  # one waits: at the amber level, not above the alert's
        assert row_of(panel(), 1)["figures"]["waiting"]["level"] == "amber"
        QueueAlertRule.objects.filter(mrd_id=1).update(max_queued=0, warn_queued=2)
        assert row_of(panel(), 1)["figures"]["waiting"]["level"] == "ok"

    @pytest.mark.parametrize(("goal", "warn", "level"), [(80, 90, "red"), (50, 70, "amber"), (50, 60, "ok")])
    def test_it_colours_the_service_level_below_the_goal_red_and_below_the_amber_share_amber(self, goal, warn, level):
        self.rule(1, service_level_goal=goal, service_level_warn=warn)  # MRD 1 stands at 67 %
        assert row_of(panel(), 1)["figures"]["service_level"]["level"] == level

    def test_a_total_takes_the_worst_level_of_its_mrds(self):
        self.rule(2, max_oldest_seconds=1)
        self.rule(1, warn_oldest_seconds=1, max_oldest_seconds=10_000)
        data = panel()
        assert (row_of(data, 1)["figures"]["longest_wait"]["level"],
                row_of(data, 2)["figures"]["longest_wait"]["level"],
                data["total"]["figures"]["longest_wait"]["level"]) == ("amber", "red", "red")  # fmt: skip

    def test_the_admin_refuses_an_amber_level_past_the_alert_threshold(self):
        from django.core.exceptions import ValidationError

        rule = QueueAlertRule(mrd_id=1, max_queued=5, warn_queued=9, service_level_goal=80, service_level_warn=70)
        with pytest.raises(ValidationError) as refused:
            rule.full_clean()
        assert set(refused.value.message_dict) == {"warn_queued", "service_level_warn"}


class OneDefinitionTests:
    """Each figure counted once: the KPI panel, the state tables, the charts, the CSV and /metrics agree."""

    def test_todays_discards_and_cancels_agree_everywhere(self, client, django_user_model):
        data = overview.overview()
        tiles = data["kpis"]["total"]["figures"]
        tables = {grouping["key"]: grouping["rows"] for grouping in data["groupings"]}
        for key in ("mrd", "selector"):
            assert sum(row["discarded_today"] for row in tables[key]) == tiles["discarded"]["value"] == 2
            assert sum(row["cancelled_today"] for row in tables[key]) == tiles["cancelled"]["value"] == 1
            assert sum(row["states"]["discarded"]["total"] for row in tables[key]) == 2
            assert sum(row["handled_today"] for row in tables[key]) == tiles["handled"]["value"]
        # Per MRD the same; the panel's one row outside the configured MRDs is the table's two (an MRD id the
        # configuration lacks, and not yet submitted): the catalogue's UNKNOWN_MRD bucket.
        outside = (overview.UNKNOWN_MRD, None)
        for row in data["kpis"]["rows"]:
            wanted = outside if row["mrd"] == catalogue.UNKNOWN_MRD else (row["mrd"],)
            assert sum(r["discarded_today"] for r in tables["mrd"] if r["value"] in wanted) == row["figures"][
                "discarded"]["value"], row["label"]  # fmt: skip
        hour = charts.hour_series()
        assert sum(sum(item["counts"]) for item in hour["discards"]) == tiles["discarded"]["value"]
        assert not {item["reason"] for item in hour["discards"]} & CANCEL_SUCCEEDED
        by_mrd = {series["mrd"]: sum(series["series"]["discarded"]) for series in hour["mrds"]}
        assert by_mrd == {1: 0, 2: 1}  # the discard before submission has no MRD: in no MRD's chart
        samples = scrape(client)
        assert value(samples, "ccpdash_discarded_contacts_today", mrd="2") == row_of(data["kpis"], 2)["figures"][
            "discarded"]["value"]  # fmt: skip
        assert value(samples, "ccpdash_cancelled_contacts_today", mrd="1") == row_of(data["kpis"], 1)["figures"][
            "cancelled"]["value"]  # fmt: skip

    def test_the_csv_names_each_reason_as_the_page_does(self):
        async def read() -> bytes:
            return b"".join([chunk async for chunk in csv_chunks(Contact.objects.filter(state=State.DISCARDED))])

        from asgiref.sync import async_to_sync

        rows = list(csv.reader(io.StringIO(async_to_sync(read)().decode())))
        header, body = rows[0], rows[1:]
        names = {row[header.index("reason")]: row[header.index("reason name")] for row in body}
        page = {item["reason"]: item["label"] for grouping in overview.overview()["groupings"]
                for row in grouping["rows"] for cell in row["states"].values() for item in cell["reasons"]}
        assert names and all(page[code] == name for code, name in names.items())

    def test_the_page_shows_the_tiles_with_their_levels(self, client, django_user_model):
        QueueAlertRule.objects.create(mrd_id=1, max_oldest_seconds=60)
        roles.ensure_role_groups()
        user = django_user_model.objects.create_user("sup")
        user.groups.add(roles.Group.objects.get(name=roles.SUPERVISORS))
        client.force_login(user)
        body = client.get("/").content.decode()
        assert 'class="kpi" data-key="longest_wait" data-level="red"' in body
        assert 'data-key="cancelled" data-level="ok"' in body
        assert f"today since midnight ({timezone.get_current_timezone_name()})" in body
