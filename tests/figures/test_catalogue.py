"""The figure catalogue as data: each figure defined once, with its meaning, window, zone and formula, and the
positions and rules it counts derived from the lifecycle's table.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.test import override_settings

from contacts.core.lifecycle import (
    CB_CANCELLING,
    CB_QUEUED,
    DISCARD_REASONS,
    IN_QUEUE_REASONS,
    TASK_CANCELLING,
    TASK_QUEUED,
    TASK_RENOTIFYING,
    Pair,
    State,
)
from contacts.figures import catalogue
from contacts.figures.catalogue import BY_KEY, FIGURES, NOW, TODAY

README = Path(__file__).resolve().parents[2] / "README.md"


class CatalogueTests:
    def test_it_defines_each_figure_once(self) -> None:
        keys = [figure.key for figure in FIGURES]
        assert len(keys) == len(set(keys)) == len(BY_KEY)
        assert set(keys) == {
            "waiting", "longest_wait", "handled", "discarded", "cancelled", "left_queue", "answered_in_threshold",
            "service_level", "estimated_wait", "ready_agents", "free_slots", "backlog",
        }  # fmt: skip

    @pytest.mark.parametrize("figure", FIGURES, ids=lambda figure: figure.key)
    def test_it_gives_every_figure_a_label_unit_meaning_window_zone_and_total(self, figure) -> None:
        assert figure.label and figure.unit and figure.counts and figure.total
        assert figure.window in (NOW, TODAY)
        assert figure.zone == "TIME_ZONE"

    @pytest.mark.parametrize("figure", FIGURES, ids=lambda figure: figure.key)
    def test_it_writes_the_formula_of_every_figure_that_is_not_a_plain_count(self, figure) -> None:
        if figure.positions is None and figure.moves is None:
            assert figure.formula

    def test_it_counts_moves_over_today_and_positions_now(self) -> None:
        for figure in FIGURES:
            if figure.moves is not None and figure.positions is None:
                assert figure.window is TODAY, figure.key
            if figure.positions is not None:
                assert figure.window is NOW, figure.key

    @pytest.mark.parametrize(
        "key, rules",
        [
            ("handled", {"C3", "C7", "T4"}),
            ("discarded", {"C4", "T5", "T11"}),
            ("cancelled", {"C6", "T7"}),
            ("answered_in_threshold", {"C3", "C7", "T3", "T8"}),
            ("left_queue", {"C3", "C4", "C6", "C7", "T3", "T5", "T7", "T8", "T9"}),
            ("longest_wait", {"C2", "T2", "T10"}),
        ],
    )
    def test_it_derives_the_rules_each_figure_counts_from_the_move_table(self, key, rules) -> None:
        assert BY_KEY[key].moves.rules == rules

    def test_it_never_counts_a_cancel_as_a_discard(self) -> None:
        cancelled, discarded = BY_KEY["cancelled"].moves.targets, BY_KEY["discarded"].moves.targets
        assert not cancelled & discarded
        assert {pair.reason for pair in cancelled | discarded} == set(DISCARD_REASONS)
        assert {pair.state for pair in cancelled | discarded} == {State.DISCARDED}

    def test_it_keeps_cancels_in_flight_and_renotifying_tasks_out_of_waiting(self) -> None:
        assert BY_KEY["waiting"].positions == {CB_QUEUED, TASK_QUEUED}
        assert {CB_CANCELLING, TASK_CANCELLING} <= catalogue.IN_QUEUE
        assert TASK_RENOTIFYING not in catalogue.IN_QUEUE

    def test_it_means_by_the_queue_what_the_mock_cce_counts(self) -> None:
        assert catalogue.IN_QUEUE == {Pair(State.QUEUED, reason) for reason in IN_QUEUE_REASONS}

    def test_it_answers_only_from_the_queue_to_an_agent(self) -> None:
        answered = BY_KEY["answered_in_threshold"].moves
        assert answered.sources == catalogue.IN_QUEUE
        assert {pair.state for pair in answered.targets} == {State.RESERVED, State.HANDLED}

    def test_it_shows_the_backlog_in_the_total_only(self) -> None:
        assert not BY_KEY["backlog"].per_mrd
        assert "backlog" not in catalogue.PER_MRD_KEYS
        assert all(BY_KEY[key].per_mrd for key in catalogue.PER_MRD_KEYS)

    @override_settings(TIME_ZONE="Europe/Berlin")
    def test_it_names_the_time_zone_in_every_window(self) -> None:
        assert catalogue.window_text(BY_KEY["handled"]) == "today, since midnight in Europe/Berlin (TIME_ZONE)"
        assert all("Europe/Berlin" in catalogue.window_text(figure) for figure in FIGURES)

    @override_settings(TIME_ZONE="Asia/Tokyo")
    def test_it_starts_today_at_the_last_midnight_in_time_zone(self) -> None:
        now = datetime(2025, 3, 14, 16, 0, tzinfo=UTC)  # 01:00 on the 15th in Tokyo (UTC+9)
        assert TODAY.start(now) == datetime(2025, 3, 14, 15, 0, tzinfo=UTC)
        assert NOW.start(now) == now

    def test_it_lists_every_figure_in_the_readme(self) -> None:
        text = README.read_text()
        section = re.search(r"^## Figures\n(.*?)^## ", text, re.S | re.M)
        assert section, "README has no Figures section"
        for figure in FIGURES:
            assert f"`{figure.key}`" in section.group(1), figure.key
