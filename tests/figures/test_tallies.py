"""The figures' move tallies (contacts.figures.tallies): kept with every move, equal to a recount of the transitions
after any mix of moves, renotifies onto another group, purges, folds and rebuilds; backfilled by their migration;
checked and repaired by the periodic check; and the reads at 10,000 contacts use indexes, never a whole table.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.cce.models import MediaRoutingDomain
from contacts.core import lifecycle
from contacts.core.lifecycle import MOVES, Source, TransitionRefused
from contacts.core.models import Contact, Feed, FeedType, Transition
from contacts.demo import seed
from contacts.demo.bench import history
from contacts.figures import tallies
from contacts.figures.models import MoveTally
from contacts.figures.tallies import KEY_FIELDS

GROUPS = [(1, "Sales"), (2, "Support")]


@pytest.fixture
def config(db) -> None:
    Feed.objects.create(id=100, name="tasks", type=FeedType.TASK)
    Feed.objects.create(id=200, name="callbacks", type=FeedType.CALLBACK)
    MediaRoutingDomain.objects.create(id=1, name="Sales", service_level_seconds=20)
    MediaRoutingDomain.objects.create(id=2, name="Support", service_level_seconds=60)


def kept() -> dict[tuple, int]:
    """The tallies summed per key over all periods (zeros left out)."""
    sums = MoveTally.objects.order_by().values(*KEY_FIELDS).annotate(n=Sum("count"))
    return {key: n for key, n in ((tuple(item[f] for f in KEY_FIELDS), item["n"]) for item in sums) if n}


def recounted() -> dict[tuple, int]:
    counts: Counter[tuple] = Counter()
    for item in tallies.recount():
        counts[tuple(item[f] if item[f] is not None else tallies._blank(f) for f in KEY_FIELDS)] += item["n"]
    return dict(+counts)


def legal_moves(contact: Contact) -> list[tuple[str, str]]:
    return sorted(to for (source, to), _ in MOVES[contact.kind].items() if source == contact.pair)


def move(contact: Contact, choice: int, group: int) -> None:
    """One legal move of the table, chosen by `choice`; a contact leaving `unread` gets the group `group` picks."""
    options = legal_moves(contact)
    if not options:
        return
    to = options[choice % len(options)]
    changes = {}
    if contact.pair == lifecycle.UNREAD:
        changes = dict(zip(("cce_mrd_id", "cce_script_selector"), GROUPS[group % 2], strict=True))
    if contact.pair == lifecycle.TASK_RENOTIFYING:  # the renotify's answer may put it in another group
        changes = dict(zip(("cce_mrd_id", "cce_script_selector"), GROUPS[group % 2], strict=True))
    try:
        lifecycle.transition(contact, *to, source=Source.CCE, changes=changes)
    except TransitionRefused:
        contact.refresh_from_db()


def renotify_elsewhere(contact: Contact) -> None:
    """T9 then T10 into the other group, where the table allows it (a task queued or discarded)."""
    if contact.pair == lifecycle.UNREAD:
        move(contact, 0, 0)
    if lifecycle.TASK_RENOTIFYING not in legal_moves(contact):
        return
    lifecycle.transition(contact, *lifecycle.TASK_RENOTIFYING, source=Source.API)
    other = GROUPS[1 - [mrd for mrd, _ in GROUPS].index(contact.cce_mrd_id)] if contact.cce_mrd_id else GROUPS[0]
    lifecycle.transition(contact, *lifecycle.TASK_QUEUED, source=Source.CCE,
                         changes=dict(zip(("cce_mrd_id", "cce_script_selector"), other, strict=True)))


STEP = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(["task", "callback"])),
    st.tuples(st.just("renotify"), st.integers(0, 30)),
    st.tuples(st.just("move"), st.integers(0, 30), st.integers(0, 30), st.integers(0, 1)),
    st.tuples(st.just("purge"), st.integers(0, 30)),
    st.tuples(st.just("rebuild"), st.integers(0, 120)),
    st.tuples(st.just("fold"), st.integers(0, 180)),
)


@pytest.mark.usefixtures("config")
class TallyTests:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(steps=st.lists(STEP, min_size=1, max_size=40))
    def test_they_equal_a_recount_after_every_step_of_any_mix_of_moves_purges_folds_and_rebuilds(self, steps):
        Contact.objects.all().delete()
        MoveTally.objects.all().delete()
        contacts: list[Contact] = []
        for step in steps:
            if step[0] == "create":
                feed = Feed.objects.get(id=100 if step[1] == "task" else 200)
                contacts.append(lifecycle.create(step[1], feed, name="n", title="t"))
            elif step[0] == "move" and contacts:
                contact = contacts[step[1] % len(contacts)]
                contact.refresh_from_db()
                move(contact, step[2], step[3])
            elif step[0] == "renotify" and contacts:
                contact = contacts[step[1] % len(contacts)]
                contact.refresh_from_db()
                renotify_elsewhere(contact)
            elif step[0] == "purge" and contacts:
                # As the retention purge (or an admin delete) does: rows gone, their span recounted.
                contacts.pop(step[1] % len(contacts)).delete()
                tallies.rebuild(end=timezone.now())
            elif step[0] == "rebuild":
                tallies.rebuild(start=timezone.now() - timedelta(minutes=step[1]))
            elif step[0] == "fold":  # as beat does, now or later (minutes then fold into quarters)
                tallies.fold(timezone.now() + timedelta(minutes=step[1]))
            assert kept() == recounted(), step  # after every step, not only once a rebuild has set them right
        assert tallies.differences(timezone.now() - timedelta(days=1)) == {}

    def test_a_move_appends_a_row_in_its_own_transaction_and_a_fold_merges_them(self):
        contacts = [lifecycle.create("task", Feed.objects.get(id=100), name="n", title="t") for _ in range(3)]
        for contact in contacts:
            lifecycle.transition(contact, "queued", "EXTERNALLY_ROUTED", source=Source.CCE, changes={"cce_mrd_id": 1})
        assert MoveTally.objects.count() == 3 and set(MoveTally.objects.values_list("count", flat=True)) == {1}
        tallies.fold(timezone.now() + timedelta(minutes=1))
        assert list(MoveTally.objects.values_list("mrd_id", "to_state", "count")) == [(1, "queued", 3)]

    def test_a_task_renotified_into_another_group_takes_its_earlier_moves_along(self):
        task = lifecycle.create("task", Feed.objects.get(id=100), name="n", title="t")
        lifecycle.transition(task, "discarded", "NOTIFICATION_NO_SCRIPT", source=Source.CCE,
                             changes={"cce_mrd_id": 1, "cce_script_selector": "Sales"})
        lifecycle.transition(task, "queued", "TASK_RENOTIFY_REQUESTED", source=Source.API)
        lifecycle.transition(task, "queued", "EXTERNALLY_ROUTED", source=Source.CCE,
                             changes={"cce_mrd_id": 2, "cce_script_selector": "Support"})
        discards = tallies.tallied(timezone.now() - timedelta(hours=1)).filter(to_state="discarded")
        assert {mrd: n for mrd, n in discards.values("mrd_id").annotate(n=Sum("count")).values_list("mrd_id", "n")
                if n} == {2: 1}
        assert kept() == recounted()

    def test_the_check_rebuilds_today_when_the_tallies_drifted(self, caplog):
        contact = lifecycle.create("task", Feed.objects.get(id=100), name="n", title="t")
        lifecycle.transition(contact, "queued", "EXTERNALLY_ROUTED", source=Source.CCE, changes={"cce_mrd_id": 1})
        assert tallies.check() == 0
        MoveTally.objects.all().delete()  # as a delete that bypassed the lifecycle leaves them
        assert tallies.check() == 1
        assert "differed from a recount" in caplog.text
        assert kept() == recounted() and tallies.check() == 0


@pytest.mark.django_db(transaction=True)
class MigrationTests:
    def test_the_migration_counts_the_moves_a_database_already_holds(self):
        before, after = [("contacts", "0011_admission_claim")], [("contacts", "0012_move_tallies")]
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        feed = old.get_model("contacts", "Feed").objects.create(id=100, name="tasks", type=FeedType.TASK)
        contact = old.get_model("contacts", "Contact").objects.create(kind="task", feed=feed, state="handled",
                                                                      reason="EXTERNALLY_HANDLED", cce_mrd_id=7)
        moves = [("", "", "unread", ""), ("unread", "", "queued", "EXTERNALLY_ROUTED"),
                 ("queued", "EXTERNALLY_ROUTED", "reserved", "EXTERNALLY_ROUTED"),
                 ("reserved", "EXTERNALLY_ROUTED", "handled", "EXTERNALLY_HANDLED")]
        for from_state, from_reason, to_state, to_reason in moves:
            old.get_model("contacts", "Transition").objects.create(
                contact=contact, rule="X", from_state=from_state, from_reason=from_reason, to_state=to_state,
                to_reason=to_reason, source=Source.CCE)
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        assert sorted(MoveTally.objects.values_list("mrd_id", "to_state", "count")) == [
            (7, "handled", 1), (7, "queued", 1), (7, "reserved", 1)]  # the create is not tallied


@pytest.mark.postgres
@pytest.mark.django_db
class ReadPlanTests:
    """At 10,000 contacts every query the dashboard's first paint and overview make on contacts, transitions or
    tallies is answered by an index: none reads a whole table (EXPLAIN, with sequential scans made dearer than
    any index, as a table of millions would make them)."""

    @pytest.fixture
    def grown(self, client):
        seed.seed_feeds()
        seed.seed_cce()
        seed.seed_users()
        history.grow_to(10_000, progress=lambda line: None)
        client.force_login(get_user_model().objects.get(username="supervisor"))
        return client

    def test_no_read_scans_a_whole_table(self, grown):
        scanned = []
        tables = (Contact._meta.db_table, Transition._meta.db_table, MoveTally._meta.db_table)
        for url in ("/", "/overview", "/contacts/", "/contacts/?state=discarded", "/contacts/?q=Order",
                    "/contacts/?q=Order+4711", "/alerts/charts"):
            with CaptureQueriesContext(connection) as captured:
                assert grown.get(url).status_code == 200, url
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
                for sql in dict.fromkeys(query["sql"] for query in captured.captured_queries):
                    if not sql.lstrip().upper().startswith("SELECT") or not any(f'"{t}"' in sql for t in tables):
                        continue
                    cursor.execute(f"EXPLAIN {sql}")
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                    scanned += [(url, table, sql[:200]) for table in tables if f"Seq Scan on {table}" in plan]
        assert scanned == []
