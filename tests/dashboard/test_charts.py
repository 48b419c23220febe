"""The charts' data: per-minute levels and flows per MRD and discards by reason, computed from transitions, with a
query count that does not grow with the number of contacts.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.core import lifecycle
from contacts.core import permissions as roles
from contacts.core.lifecycle import Reason, Source
from contacts.core.models import Contact, Feed, Transition
from contacts.dashboard import charts
from contacts.demo import seed as demo
from contacts.figures import tallies

QUEUED, RESERVED = ("queued", Reason.EXTERNALLY_ROUTED), ("reserved", Reason.EXTERNALLY_ROUTED)


@pytest.fixture(autouse=True)
def demo_config(db):
    demo.seed_feeds()
    demo.seed_cce()


class Timeline:
    """Moves contacts at chosen minutes of the charts' window (minute 0 = the oldest, 59 = the current one)."""

    def __init__(self) -> None:
        self.now = timezone.now()
        self.start, _ = charts.window(self.now)

    def contact(self, name: str) -> Contact:
        return lifecycle.create("task", Feed.objects.get(id=100), name=name, script_selector="Sales")

    def move(self, contact: Contact, pair: tuple[str, str], minute: int | None, before: timedelta | None = None):
        row = lifecycle.transition(contact, *pair, source=Source.CCE, changes={"cce_mrd_id": 5000})
        when = self.start + timedelta(minutes=minute, seconds=30) if minute is not None else self.now - before
        Transition.objects.filter(pk=row.pk).update(created_at=when)
        tallies.rebuild()  # the charts read the tallies: recount them with the row's new time


def expected(ranges: list[tuple[int, int]], base: int = 0) -> list[int]:
    return [base + sum(lo <= i < hi for lo, hi in ranges) for i in range(charts.MINUTES)]


@pytest.mark.django_db
class ChartDataTests:
    @pytest.fixture
    def series(self) -> tuple[dict, Timeline]:
        t = Timeline()
        old = t.contact("queued two hours ago")
        t.move(old, QUEUED, None, before=timedelta(hours=2))
        waiting = t.contact("queued at 10")
        t.move(waiting, QUEUED, 10)
        done = t.contact("handled at 40")
        for pair, minute in [(QUEUED, 20), (RESERVED, 30), (("handled", Reason.EXTERNALLY_HANDLED), 40)]:
            t.move(done, pair, minute)
        late = t.contact("reserved at 55")
        t.move(late, QUEUED, 50)
        t.move(late, RESERVED, 55)
        t.move(t.contact("no script"), ("discarded", Reason.NO_SCRIPT), 45)
        return charts.hour_series(t.now), t

    def test_it_counts_queued_and_reserved_at_the_end_of_each_minute(self, series):
        data, _ = series
        (mrd,) = data["mrds"]
        assert (mrd["mrd"], mrd["label"]) == (5000, "MRD 5000 · Chat")
        assert mrd["series"]["queued"] == expected([(10, 60), (20, 30), (50, 55)], base=1)
        assert mrd["series"]["reserved"] == expected([(30, 40), (55, 60)])

    def test_it_counts_handled_and_discarded_during_each_minute(self, series):
        data, _ = series
        flows = data["mrds"][0]["series"]
        assert flows["handled"] == expected([(40, 41)]) and flows["discarded"] == expected([(45, 46)])
        assert data["discards"] == [{"reason": Reason.NO_SCRIPT, "counts": expected([(45, 46)])}]

    def test_it_leaves_successful_cancels_out_of_the_discards(self, series):
        _, t = series
        cancelled = t.contact("cancelled at 47")
        t.move(cancelled, QUEUED, 46)
        t.move(cancelled, ("queued", Reason.TASK_CANCEL_REQUESTED), 46)
        t.move(cancelled, ("discarded", Reason.TASK_CANCEL_SUCCEEDED), 47)
        data = charts.hour_series(t.now)
        assert data["mrds"][0]["series"]["discarded"] == expected([(45, 46)])
        assert [item["reason"] for item in data["discards"]] == [Reason.NO_SCRIPT]

    def test_it_draws_no_chart_for_an_mrd_the_configuration_lacks(self, series):
        _, t = series
        row = lifecycle.transition(t.contact("lost"), *QUEUED, source=Source.CCE, changes={"cce_mrd_id": 9999})
        Transition.objects.filter(pk=row.pk).update(created_at=t.start + timedelta(minutes=50))
        tallies.rebuild()
        assert [mrd["mrd"] for mrd in charts.hour_series(t.now)["mrds"]] == [5000]

    def test_it_labels_the_minutes_of_the_last_hour(self, series):
        data, t = series
        minutes = data["minutes"]
        assert len(minutes) == charts.MINUTES and minutes[0] == int(t.start.timestamp())
        assert all(b - a == 60 for a, b in zip(minutes, minutes[1:], strict=False))
        assert minutes[-1] <= t.now.timestamp() < minutes[-1] + 60
        assert data["last_id"] == Transition.objects.latest("id").pk

    def test_it_serves_the_series_to_dashboard_viewers_only(self, client, django_user_model, series, monkeypatch):
        # The view's clock is the fixture's: a minute turning between the two would shift the window by one.
        monkeypatch.setattr(charts, "timezone", SimpleNamespace(now=lambda: series[1].now))
        assert client.get("/alerts/charts").status_code == 401
        roles.ensure_role_groups()
        user = django_user_model.objects.create_user("sup")
        user.groups.add(roles.Group.objects.get(name=roles.SUPERVISORS))
        client.force_login(user)
        body = client.get("/alerts/charts").json()
        assert body["mrds"][0]["series"]["handled"] == series[0]["mrds"][0]["series"]["handled"]

    def test_it_keeps_the_query_count_when_contacts_grow(self):
        t = Timeline()

        def queries() -> int:
            with CaptureQueriesContext(connection) as captured:
                charts.hour_series()
            return len(captured)

        def add(count: int) -> None:
            for i in range(count):
                contact = t.contact(f"c{i}")
                t.move(contact, QUEUED, i % 50)
                t.move(contact, ("discarded", Reason.ROUTER_RELEASED_TASK), i % 50 + 5)

        add(5)
        few = queries()
        add(50)
        assert queries() == few
