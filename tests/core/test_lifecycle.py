"""The lifecycle against the contract's table, written out here by hand from spec §3."""

from __future__ import annotations

import itertools
import random

import pytest
from django.db import transaction

from contacts.core import lifecycle
from contacts.core.lifecycle import IllegalTransition, Pair, Source, TransitionConflict
from contacts.core.models import Contact, Feed, FeedType, Transition

# --- the contract, copied from spec §2 and §3 (deliberately not derived from lifecycle.py) ---

CALLBACK_ERRORS = {
    "NOTIFICATION_INVALID_NEW_TASK_MESSAGE",
    "NOTIFICATION_MEDIA_ROUTING_DISABLED",
    "NOTIFICATION_NO_SCRIPT",
    "NOTIFICATION_INVALID_MRD_ID",
    "NOTIFICATION_INVALID_SCRIPT_SELECTOR",
    "NOTIFICATION_ROUTER_RELEASED_TASK",
    "NOTIFICATION_UNKNOWN_ERROR",
    "NOTIFICATION_CCE_CONNECTION_FAILURE",
    "NOTIFICATION_CCE_CCP_FAILOVER",
    "NOTIFICATION_INVALID_FIELD_LENGTH",
    "NOTIFICATION_RATE_LIMITED",
}
TASK_ERRORS = CALLBACK_ERRORS - {"NOTIFICATION_INVALID_MRD_ID"}
ALL_REASONS = CALLBACK_ERRORS | {
    "",
    "EXTERNALLY_HANDLED",
    "EXTERNALLY_ROUTED",
    "TASK_RENOTIFY_REQUESTED",
    "NOTIFICATION_CCE_CALLBACK_CANCEL_SUCCEEDED",
    "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED",
    "NOTIFICATION_CCE_CALLBACK_CANCEL_REQUESTED",
    "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED",
}
ALL_STATES = {"unread", "queued", "reserved", "handled", "discarded"}

U = ("unread", "")
CB_Q = ("queued", "EXTERNALLY_HANDLED")
CB_CANCEL = ("queued", "NOTIFICATION_CCE_CALLBACK_CANCEL_REQUESTED")
T_Q = ("queued", "EXTERNALLY_ROUTED")
T_RENOTIFY = ("queued", "TASK_RENOTIFY_REQUESTED")
T_CANCEL = ("queued", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED")
T_RESERVED = ("reserved", "EXTERNALLY_ROUTED")
HANDLED = ("handled", "EXTERNALLY_HANDLED")


def discards(codes):
    return [("discarded", code) for code in sorted(codes)]


CONTRACT_ROWS = {
    "callback": [
        ("C2", [U], [CB_Q]),
        ("C3", [CB_Q], [HANDLED]),
        ("C4", [U, CB_Q], discards(CALLBACK_ERRORS)),
        ("C5", [U, CB_Q], [CB_CANCEL]),
        ("C6", [CB_CANCEL], [("discarded", "NOTIFICATION_CCE_CALLBACK_CANCEL_SUCCEEDED")]),
        ("C7", [CB_CANCEL], [HANDLED]),
    ],
    "task": [
        ("T2", [U], [T_Q]),
        ("T3", [T_Q], [T_RESERVED]),
        ("T4", [T_RESERVED], [HANDLED]),
        ("T5", [U, T_Q], discards(TASK_ERRORS)),
        ("T6", [U, T_Q, T_RENOTIFY], [T_CANCEL]),
        ("T7", [T_CANCEL], [("discarded", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED")]),
        ("T8", [T_CANCEL], [T_RESERVED]),
        ("T9", discards(TASK_ERRORS) + [T_Q], [T_RENOTIFY]),
        ("T10", [T_RENOTIFY], [T_Q]),
        ("T11", [T_RENOTIFY], discards(TASK_ERRORS)),
    ],
}
CREATE_RULES = {"callback": "C1", "task": "T1"}


def contract_moves(kind: str) -> dict[tuple[tuple, tuple], str]:
    return {
        (src, dst): rule
        for rule, sources, targets in CONTRACT_ROWS[kind]
        for src in sources
        for dst in targets
    }


def code_moves(kind: str) -> dict[tuple[tuple, tuple], str]:
    return {
        (tuple(src), tuple(dst)): rule
        for (src, dst), rule in lifecycle.MOVES[kind].items()
        if src is not lifecycle.NEW
    }


def every_pair() -> list[tuple[str, str]]:
    return list(itertools.product(sorted(ALL_STATES), sorted(ALL_REASONS)))


@pytest.fixture
def feeds(db):
    return {
        "task": Feed.objects.create(id=100, name="tasks", type=FeedType.TASK),
        "callback": Feed.objects.create(id=200, name="callbacks", type=FeedType.CALLBACK),
    }


def contact_at(feeds, kind: str, pair) -> Contact:
    """A contact placed at `pair` directly: the fixture, not the code under test, sets it up."""
    contact = lifecycle.create(kind, feeds[kind], name="Ada", title="t", script_selector="Sales")
    Contact.objects.filter(pk=contact.pk).update(state=pair[0], reason=pair[1])
    contact.refresh_from_db()
    return contact


class TableTests:
    @pytest.mark.parametrize("kind", ["callback", "task"])
    def test_it_lists_exactly_the_contract_moves(self, kind):
        assert code_moves(kind) == contract_moves(kind)

    @pytest.mark.parametrize("kind", ["callback", "task"])
    def test_it_creates_only_at_unread(self, kind):
        creates = {dst: rule for (src, dst), rule in lifecycle.MOVES[kind].items() if src is lifecycle.NEW}
        assert creates == {Pair("unread", ""): CREATE_RULES[kind]}

    def test_it_knows_every_reason_code_of_the_contract(self):
        assert {reason.value for reason in lifecycle.Reason} == ALL_REASONS
        assert {state.value for state in lifecycle.State} == ALL_STATES

    def test_it_allows_each_discard_code_only_for_its_kinds(self):
        for kind, errors in [("callback", CALLBACK_ERRORS), ("task", TASK_ERRORS)]:
            reachable = {dst[1] for (_, dst) in code_moves(kind) if dst[0] == "discarded"}
            cancel = {"callback": "NOTIFICATION_CCE_CALLBACK_CANCEL_SUCCEEDED",
                      "task": "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED"}[kind]
            assert reachable == errors | {cancel}

    def test_it_gives_cause_and_fix_for_every_error(self):
        for code in CALLBACK_ERRORS:
            info = lifecycle.DISCARD_REASONS[code]
            assert info.cause and info.fix

    def test_it_calls_handled_and_cancelled_final(self):
        assert lifecycle.is_final("task", Pair(*HANDLED))
        assert lifecycle.is_final("task", Pair("discarded", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED"))
        assert lifecycle.is_final("callback", Pair("discarded", "NOTIFICATION_NO_SCRIPT"))
        assert not lifecycle.is_final("task", Pair("discarded", "NOTIFICATION_NO_SCRIPT"))


@pytest.mark.django_db
class TransitionTests:
    @pytest.mark.parametrize("kind", ["callback", "task"])
    def test_it_accepts_every_listed_move(self, feeds, kind):
        for (src, dst), rule in contract_moves(kind).items():
            contact = contact_at(feeds, kind, src)
            row = lifecycle.transition(contact, *dst, source=Source.SYSTEM)
            assert row.rule == rule
            contact.refresh_from_db()
            assert contact.pair == dst

    @pytest.mark.parametrize("kind", ["callback", "task"])
    def test_it_refuses_moves_the_table_does_not_list(self, feeds, kind):
        allowed = contract_moves(kind)
        pairs = every_pair()
        refused = [(src, dst) for src in pairs for dst in pairs if src != dst and (src, dst) not in allowed]
        sample = random.Random(7).sample(refused, 300)
        for src, dst in sample:
            contact = contact_at(feeds, kind, src)
            with pytest.raises(IllegalTransition):
                lifecycle.transition(contact, *dst, source=Source.SYSTEM)

    def test_it_refuses_an_illegal_move_without_changing_anything(self, feeds):
        contact = contact_at(feeds, "task", HANDLED)
        before = Transition.objects.count()
        with pytest.raises(IllegalTransition, match="does not list"):
            lifecycle.transition(contact, "queued", "EXTERNALLY_ROUTED", source=Source.API)
        contact.refresh_from_db()
        assert contact.pair == HANDLED
        assert Transition.objects.count() == before

    def test_it_treats_a_move_to_the_current_pair_as_a_no_op(self, feeds):
        contact = contact_at(feeds, "task", T_Q)
        before = Transition.objects.count()
        assert lifecycle.transition(contact, *T_Q, source=Source.WORKER) is None
        assert Transition.objects.count() == before

    def test_it_writes_the_transition_row_with_the_move(self, feeds, django_user_model):
        user = django_user_model.objects.create_user("ops")
        contact = contact_at(feeds, "task", U)
        row = lifecycle.transition(contact, *T_CANCEL, source=Source.DASHBOARD, user=user, comment="dup")
        assert (row.rule, row.from_pair, row.to_pair) == ("T6", U, T_CANCEL)
        assert (row.source, row.user, row.comment) == ("dashboard", user, "dup")

    def test_it_records_the_create(self, feeds):
        contact = lifecycle.create("callback", feeds["callback"], name="Grace", media_address="+1555")
        (row,) = contact.transitions.all()
        assert (row.rule, row.from_pair, row.to_pair, row.source) == ("C1", None, U, "api")
        assert len(contact.public_id) == 32 and contact.public_id == contact.public_id.upper()

    def test_it_sets_other_fields_in_the_same_move(self, feeds):
        contact = contact_at(feeds, "task", T_Q)
        lifecycle.transition(contact, *T_RESERVED, source=Source.CCE, changes={"agent_id": "1081"})
        contact.refresh_from_db()
        assert contact.agent_id == "1081"

    def test_it_refuses_a_move_from_a_stale_pair(self, feeds):
        contact = contact_at(feeds, "task", T_CANCEL)
        stale = Contact.objects.get(pk=contact.pk)
        lifecycle.transition(contact, *T_RESERVED, source=Source.CCE)
        with pytest.raises(TransitionConflict) as refused:
            lifecycle.transition(stale, "discarded", "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED", source=Source.CCE)
        assert refused.value.actual == T_RESERVED
        assert Contact.objects.get(pk=contact.pk).pair == T_RESERVED

    def test_it_treats_a_duplicate_of_a_move_just_made_as_a_no_op(self, feeds):
        contact = contact_at(feeds, "task", U)
        duplicate = Contact.objects.get(pk=contact.pk)
        lifecycle.transition(contact, *T_Q, source=Source.WORKER)
        assert lifecycle.transition(duplicate, *T_Q, source=Source.WORKER) is None
        assert contact.transitions.filter(rule="T2").count() == 1

    def test_it_refuses_fields_it_does_not_own(self, feeds):
        contact = contact_at(feeds, "task", T_Q)
        with pytest.raises(ValueError):
            lifecycle.transition(contact, *T_RESERVED, source=Source.CCE, changes={"state": "handled"})


@pytest.mark.django_db(transaction=True)
class CommitTests:
    def test_it_runs_hooks_after_commit_only(self, feeds):
        contact = contact_at(feeds, "task", U)
        seen = []
        with transaction.atomic():
            lifecycle.transition(contact, *T_Q, source=Source.WORKER, then=[lambda row: seen.append(row.rule)])
            assert seen == []
        assert seen == ["T2"]

    def test_it_rolls_back_the_row_with_the_move_and_skips_hooks(self, feeds):
        contact = contact_at(feeds, "task", U)
        before = Transition.objects.count()
        seen = []
        with pytest.raises(RuntimeError), transaction.atomic():
            lifecycle.transition(contact, *T_Q, source=Source.WORKER, then=[seen.append])
            raise RuntimeError("rollback")
        assert Contact.objects.get(pk=contact.pk).pair == U
        assert Transition.objects.count() == before
        assert seen == []

    def test_it_keeps_the_move_when_a_hook_fails(self, feeds):
        contact = contact_at(feeds, "task", U)

        def broken(row):
            raise RuntimeError("broker down")

        lifecycle.transition(contact, *T_Q, source=Source.WORKER, then=[broken])
        assert Contact.objects.get(pk=contact.pk).pair == T_Q


class BatchTests:
    """`transition_many`: one compare-and-set for a batch, still one `Transition` per moved contact."""

    def test_it_moves_a_batch_with_one_row_each(self, feeds):
        contacts = [contact_at(feeds, "task", T_RESERVED) for _ in range(3)]
        rows = lifecycle.transition_many(contacts, *HANDLED, source=Source.CCE, changes={"due_at": None})
        assert [row.contact_id for row in rows] == [contact.pk for contact in contacts]
        assert {row.rule for row in rows} == {"T4"}
        assert all(Contact.objects.get(pk=contact.pk).pair == HANDLED for contact in contacts)
        assert all(contact.pair == HANDLED for contact in contacts)  # the caller's objects too
        assert Transition.objects.filter(rule="T4").count() == 3

    def test_it_skips_contacts_another_writer_moved_first(self, feeds):
        contacts = [contact_at(feeds, "task", T_RESERVED) for _ in range(3)]
        taken = contacts[1]
        # Another writer completes it first, as a second sweep would.
        lifecycle.transition(Contact.objects.get(pk=taken.pk), *HANDLED, source=Source.CCE)
        rows = lifecycle.transition_many(contacts, *HANDLED, source=Source.CCE)
        assert [row.contact_id for row in rows] == [contacts[0].pk, contacts[2].pk]
        assert Transition.objects.filter(contact=taken, rule="T4").count() == 1
        assert taken.pair == T_RESERVED  # the loser's object is left as it was read

    def test_it_sets_per_contact_fields(self, feeds):
        contacts = [contact_at(feeds, "task", T_Q) for _ in range(2)]
        each = {c.pk: {"agent_id": f"agent-{n}", "cce_task_id": f"task-{n}"} for n, c in enumerate(contacts)}
        lifecycle.transition_many(contacts, *T_RESERVED, source=Source.CCE, each=each)
        stored = Contact.objects.filter(pk__in=[c.pk for c in contacts]).order_by("pk")
        assert [(c.agent_id, c.cce_task_id) for c in stored] == [("agent-0", "task-0"), ("agent-1", "task-1")]

    def test_it_refuses_a_move_the_table_does_not_list_and_changes_nothing(self, feeds):
        contacts = [contact_at(feeds, "task", T_Q) for _ in range(2)]
        with pytest.raises(IllegalTransition):
            lifecycle.transition_many(contacts, *HANDLED, source=Source.CCE)
        assert all(Contact.objects.get(pk=contact.pk).pair == T_Q for contact in contacts)

    def test_it_refuses_a_batch_read_at_two_pairs(self, feeds):
        contacts = [contact_at(feeds, "task", T_Q), contact_at(feeds, "task", T_RESERVED)]
        with pytest.raises(ValueError):
            lifecycle.transition_many(contacts, *HANDLED, source=Source.CCE)


@pytest.mark.django_db(transaction=True)
class BatchCommitTests:
    def test_it_runs_a_batch_hook_once_after_commit(self, feeds, monkeypatch):
        per_row, batches, unbatched = [], [], []
        hooks = [(per_row.append, None), (unbatched.append, batches.append)]
        monkeypatch.setattr(lifecycle, "_after_commit_hooks", hooks)
        contacts = [contact_at(feeds, "task", T_RESERVED) for _ in range(3)]
        per_row.clear()  # the contacts' own creation ran the hooks
        unbatched.clear()
        with transaction.atomic():
            lifecycle.transition_many(contacts, *HANDLED, source=Source.CCE)
            assert per_row == [] and batches == []
        assert len(per_row) == 3 and [len(batch) for batch in batches] == [3] and unbatched == []


class QueueEntryTests:
    """`queue_entered_at`, the queues' FIFO key, is stamped by every move into a waiting position."""

    def test_it_stamps_the_queue_entry_and_keeps_it_while_a_cancel_is_in_flight(self, feeds):
        contact = contact_at(feeds, "task", U)
        row = lifecycle.transition(contact, *T_Q, source=Source.CCE)
        assert Contact.objects.get(pk=contact.pk).queue_entered_at == row.created_at
        lifecycle.transition(contact, *T_CANCEL, source=Source.API)
        assert Contact.objects.get(pk=contact.pk).queue_entered_at == row.created_at

    def test_it_stamps_a_new_entry_when_a_renotified_task_is_queued_again(self, feeds):
        contact = contact_at(feeds, "task", U)
        first = lifecycle.transition(contact, *T_Q, source=Source.CCE)
        lifecycle.transition(contact, *T_RENOTIFY, source=Source.API)
        again = lifecycle.transition(contact, *T_Q, source=Source.CCE)
        assert again.rule == "T10"
        assert Contact.objects.get(pk=contact.pk).queue_entered_at == again.created_at > first.created_at


def test_the_migration_fills_queue_entries_of_contacts_already_queued(feeds):
    """0009 stamps what is already in a queue from its latest queue entry (its creation if none)."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("contacts.migrations.0009_queue_entered_at")
    entered = contact_at(feeds, "task", U)
    row = lifecycle.transition(entered, *T_Q, source=Source.CCE)
    handmade = contact_at(feeds, "task", T_CANCEL)
    finished = contact_at(feeds, "task", HANDLED)
    Contact.objects.update(queue_entered_at=None)  # as before the migration
    migration.fill_queue_entries(apps, None)
    stored = {c.pk: c for c in Contact.objects.all()}
    assert stored[entered.pk].queue_entered_at == row.created_at
    assert stored[handmade.pk].queue_entered_at == stored[handmade.pk].created_at
    assert stored[finished.pk].queue_entered_at is None
