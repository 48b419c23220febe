"""The benchmark's reads (`contacts.demo.bench.reads`): the history it fills and the figures it returns.

Runs on SQLite and PostgreSQL; the plans exist on PostgreSQL only. Timings are never asserted here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from contacts.alerts.models import AlertAcknowledgement
from contacts.cce.models import AgentAssignment
from contacts.core.formats import midnight
from contacts.core.lifecycle import FINAL_STATES, IN_PLAY_STATES, Kind, State, rule_for
from contacts.core.models import Contact, Transition
from contacts.demo import seed
from contacts.demo.bench import history as histories
from contacts.demo.bench import reads
from tests.conftest import on_postgresql

SIZES = [50, 120]
READS = {"home", "overview", "list", "list_reason", "search", "detail", "events", "metrics"}


@pytest.fixture
def results(db) -> dict:
    return reads.run(SIZES, progress=lambda line: None, repeat=1)


@pytest.fixture
def history(db) -> None:
    """A bigger table than `run` fills in tests, for the shares; the demo configuration first, as `run` does."""
    seed.seed_feeds()
    seed.seed_cce()
    seed.seed_users()
    histories.grow_to(4000, progress=lambda line: None)


def schema() -> list[tuple]:
    """The indexes and constraints of the tables the benchmark fills (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
            " WHERE indrelid = ANY(%(tables)s::regclass[])"
            " UNION ALL SELECT conrelid::regclass::text, conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = ANY(%(tables)s::regclass[]) ORDER BY 1, 2",
            {"tables": list(histories.GROWING_TABLES)},
        )
        return cursor.fetchall()


def moves_by_contact() -> dict[int, list[Transition]]:
    moves = defaultdict(list)
    for row in Transition.objects.order_by("id"):
        moves[row.contact_id].append(row)
    return moves


class ReadsRunTests:
    def test_it_answers_every_read_with_200_at_each_size(self, results):
        assert set(results["reads"]) == READS
        for name, by_size in results["reads"].items():
            for size in SIZES:
                figure = by_size[str(size)]
                assert figure["status"] == 200, (name, size)
                assert figure["queries"] > 0 and figure["sql_ms"] > 0, (name, size)
                assert 0 < figure["min_ms"] <= figure["ms"], (name, size)

    def test_it_fills_the_table_to_exactly_each_size_in_turn(self, results):
        assert [results["fill"][str(size)]["contacts"] for size in SIZES] == SIZES
        assert Contact.objects.count() == SIZES[-1]

    def test_it_exports_every_contact_at_each_size(self, results):
        assert {size: export["rows"] for size, export in results["export"].items()} == {str(s): s for s in SIZES}
        assert all(export["status"] == 200 for export in results["export"].values())
        assert all(peak > 0 for peak in results["export_peak_bytes"].values())

    def test_it_exports_only_up_to_the_size_asked(self, db):
        results = reads.run(SIZES, progress=lambda line: None, repeat=1, export_up_to=SIZES[0])
        assert list(results["export"]) == [str(SIZES[0])]

    def test_it_gives_a_ratio_for_every_read(self, results):
        assert set(results["ratios"]) == READS

    def test_it_returns_plans_of_every_read_only_on_postgresql(self, results):
        if not on_postgresql():
            assert results["plans"] == {}
            return
        assert set(results["plans"]) == READS
        for name, plans in results["plans"].items():
            assert plans, name
            assert all("actual time=" in plan and "Buffers:" in plan for plan in plans), name
        assert set(results["seq_scans"]) == READS

    @pytest.mark.postgres
    def test_it_sums_what_each_read_cost_the_server_at_each_size(self, results):
        assert set(results["explained"]) == READS
        for name, by_size in results["explained"].items():
            assert set(by_size) == {str(size) for size in SIZES}, name
            assert all(totals["buffers"] > 0 and totals["ms"] > 0 for totals in by_size.values()), name

    @pytest.mark.postgres
    def test_it_measures_the_database_and_each_growing_tables_size_at_each_size(self, results):
        smaller, larger = (results["fill"][str(size)]["bytes"] for size in SIZES)
        assert set(larger) == {"database", *reads.EXPLAINED_TABLES}
        assert all(stored > 0 for stored in larger.values())
        assert larger["contacts_contact"] >= smaller["contacts_contact"]

    @pytest.mark.postgres
    def test_it_explains_the_sql_each_read_ran(self, results):
        assert any('"contacts_contact"' in plan.splitlines()[0] for plan in results["plans"]["list"])
        assert any('"contacts_transition"' in plan.splitlines()[0] for plan in results["plans"]["events"])


class ReadsHistoryTests:
    def test_it_ends_each_contacts_transitions_at_its_position(self, history):
        moves = moves_by_contact()
        for contact in Contact.objects.all():
            assert (moves[contact.pk][-1].to_state, moves[contact.pk][-1].to_reason) == (contact.state, contact.reason)

    def test_it_writes_each_move_as_the_lifecycle_table_allows_it(self, history):
        kinds = dict(Contact.objects.values_list("pk", "kind"))
        for contact_id, rows in moves_by_contact().items():
            assert rows[0].from_state == "" and rows[0].rule == ("T1" if kinds[contact_id] == Kind.TASK else "C1")
            for before, after in zip(rows, rows[1:], strict=False):
                assert (after.from_state, after.from_reason) == (before.to_state, before.to_reason)
                assert after.created_at >= before.created_at
            for row in rows[1:]:
                assert row.rule == rule_for(kinds[contact_id], row.from_pair, row.to_pair)

    def test_it_creates_todays_share_since_midnight(self, history):
        today = Contact.objects.filter(created_at__gte=midnight(timezone.now())).count()
        assert today == round(4000 * histories.TODAY_SHARE)

    def test_it_keeps_thirty_days_of_history(self, history):
        oldest = Contact.objects.order_by("created_at").first().created_at
        assert timezone.now() - timedelta(days=30) <= oldest < timezone.now() - timedelta(days=20)

    def test_it_leaves_only_the_last_hours_contacts_in_play(self, history):
        hour_ago = timezone.now() - timedelta(hours=1, minutes=5)
        assert not Contact.objects.filter(state__in=IN_PLAY_STATES, created_at__lt=hour_ago).exists()
        assert Contact.objects.filter(state__in=IN_PLAY_STATES).exists()

    def test_it_finishes_almost_every_contact_handled_discarded_or_cancelled(self, history):
        counts = dict(Contact.objects.values_list("state").annotate(n=Count("id")))
        assert sum(counts.get(state, 0) for state in FINAL_STATES) > 0.99 * 4000
        assert counts[State.HANDLED] > 0.8 * 4000
        reasons = set(Contact.objects.filter(state=State.DISCARDED).values_list("reason", flat=True))
        assert {"NOTIFICATION_NO_SCRIPT", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED"} <= reasons

    def test_it_uses_the_demo_feeds_and_routes_through_the_demo_agents(self, history):
        assert set(Contact.objects.values_list("feed_id", flat=True)) == {100, 200}
        routed = Contact.objects.filter(transitions__to_state=State.RESERVED).distinct().count()
        routed += Contact.objects.filter(kind=Kind.CALLBACK, transitions__to_state=State.HANDLED).distinct().count()
        assert AgentAssignment.objects.count() == routed
        assert set(AgentAssignment.objects.values_list("agent__agent_id", flat=True)) <= set(seed.DEMO_AGENTS)

    def test_it_acknowledges_only_discard_alerts(self, history):
        acknowledged = Transition.objects.filter(acknowledgement__isnull=False)
        assert AlertAcknowledgement.objects.count() == acknowledged.count() > 0
        assert set(acknowledged.values_list("to_state", flat=True)) == {State.DISCARDED}

    @pytest.mark.postgres
    def test_it_puts_back_every_index_and_foreign_key_after_a_bulk_fill(self, history):
        before = schema()
        histories.grow_to(9000, progress=lambda line: None, bulk_from=1)
        assert Contact.objects.count() == 9000
        assert schema() == before

    def test_it_grows_without_refilling(self, history):
        before = set(Contact.objects.values_list("public_id", flat=True))
        histories.grow_to(4500, progress=lambda line: None)
        assert Contact.objects.count() == 4500
        assert before <= set(Contact.objects.values_list("public_id", flat=True))
        assert Transition.objects.values("contact_id").distinct().count() == 4500
        today = Contact.objects.filter(created_at__gte=midnight(timezone.now())).count()
        assert today == round(4500 * histories.TODAY_SHARE)
