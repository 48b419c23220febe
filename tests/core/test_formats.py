"""Plain reason names: one per code, unique, the same words wherever a reason is shown."""

from __future__ import annotations

from contacts.core.formats import reason_name
from contacts.core.positions import REASON_NAMES, Reason


def test_every_reason_code_has_a_plain_name_of_its_own():
    assert set(REASON_NAMES) == {value for value, _ in Reason.choices}
    names = [name for code, name in REASON_NAMES.items() if code]
    assert len(names) == len(set(names)), "a filter offers names alone: two codes must not share one"
    assert all(name[0].isupper() and "_" not in name for name in names)


def test_reason_name_reads_the_table_and_keeps_an_unknown_code_as_it_is():
    assert reason_name(Reason.MEDIA_ROUTING_DISABLED) == "Routing disabled"
    assert reason_name(Reason.INVALID_MRD_ID) == "Unknown MRD"
    assert reason_name("") == "—"
    assert reason_name("SOME_FUTURE_CODE") == "SOME_FUTURE_CODE"
