"""The traffic simulator: a seeded plan gives the requested mix, and each planned contact is well formed."""

from __future__ import annotations

from collections import Counter

import pytest
from defusedxml.ElementTree import fromstring

from contacts.demo import simulator

MIX = simulator.Profile(
    count=2000,
    callback_share=0.3,
    failure_shares={"no_script": 0.1, "invalid_mrd": 0.05, "field_length": 0.05},
    cancel_share=0.1,
    seed=42,
)


class PlanTests:
    def test_it_gives_the_same_plan_for_the_same_seed(self):
        assert simulator.plan(MIX) == simulator.plan(MIX)

    def test_it_gives_another_plan_for_another_seed(self):
        other = simulator.Profile(**{**MIX.__dict__, "seed": 43})
        assert simulator.plan(MIX) != simulator.plan(other)

    def test_it_produces_the_requested_mix_within_tolerance(self):
        intents = Counter(contact.intent for contact in simulator.plan(MIX))
        expected = {"no_script": 0.1, "invalid_mrd": 0.05, "field_length": 0.05, "cancel": 0.1, "success": 0.7}
        for intent, share in expected.items():
            assert intents[intent] / MIX.count == pytest.approx(share, abs=0.02), intent

    def test_it_sends_the_requested_share_of_callbacks_among_the_rest(self):
        contacts = [c for c in simulator.plan(MIX) if c.intent in {"success", "cancel"}]
        callbacks = sum(c.kind == "callback" for c in contacts)
        assert callbacks / len(contacts) == pytest.approx(0.3, abs=0.03)

    def test_it_shapes_each_failure_as_the_demo_configuration_needs(self):
        by_intent = {c.intent: c for c in simulator.plan(MIX)}
        assert by_intent["no_script"].selector == "NoScript"
        assert by_intent["invalid_mrd"].kind == "callback" and by_intent["invalid_mrd"].feed == 201
        assert ("cv_1", "x" * 41) in by_intent["field_length"].variables

    def test_it_refuses_shares_over_one(self):
        with pytest.raises(ValueError):
            simulator.plan(simulator.Profile(failure_shares={"no_script": 0.8}, cancel_share=0.3))

    def test_it_refuses_unknown_failure_kinds(self):
        with pytest.raises(ValueError, match="unknown failure"):
            simulator.plan(simulator.Profile(failure_shares={"meteor": 0.1}))


class DocumentTests:
    def test_it_writes_a_task_document(self):
        task = next(c for c in simulator.plan(MIX) if c.kind == "task")
        root = fromstring(simulator.create_document(task), forbid_dtd=True)
        assert root.tag == "Task"
        assert root.findtext("scriptSelector") == task.selector
        assert root.findtext("name") == task.name

    def test_it_writes_a_callback_document(self):
        callback = next(c for c in simulator.plan(MIX) if c.kind == "callback")
        root = fromstring(simulator.create_document(callback), forbid_dtd=True)
        assert root.tag == "Contact"
        assert root.findtext("mediaAddress") == callback.media_address
