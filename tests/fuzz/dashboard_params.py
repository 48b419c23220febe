"""Hostile query parameters for the dashboard: the contact list's filters and keyset cursors, the events' and the
alert feed's cursors, the audit page's filters, ids; each near the values the forms take, or far from them."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from contacts.core.lifecycle import Reason, State

from . import values

NUMBERS = ["0", "1", "-1", "100", "5000", "1e3", "1.0", "+1", " 1", "1 ", "1_000", "0x10", "\u0661\u0660\u0660",
           "\U0001d7d7", "2147483647", "2147483648", "9223372036854775807", "9223372036854775808", "9" * 40,
           "-" + "9" * 40, "nan", "inf", "", "\x00", "1\x00"]
# Cursors are '<microseconds since 1970>.<id>': the edges of datetime, of the id column, and what int() also reads.
CURSORS = ["", ".", "1.", ".1", "1.2.3", "abc", "1e5.1", "nan.1", "inf.1", "1_000.1", " 1 . 2 ", "\u0661.\u0662",
           "-1.-1", "9" * 30 + ".1", "1." + "9" * 30, "253402300799999999.1", "253402300800000000.1",
           "-62135596800000000.0", "-62135596800000001.1", "0.9223372036854775808", "0.-9223372036854775809"]


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
        st.builds(values.insert, values.text(20), st.sampled_from(tuple(values.HOSTILE + values.LINE_BREAKS)),
                  st.floats(0, 1)),
        st.sampled_from(("x" * 101, "x" * 5000, "%", "_", "\\", "%_\\", "' OR 1=1 --", "<script>", "{{ x }}")),
    )


def cursors() -> st.SearchStrategy[str]:
    pair = st.builds("{}.{}".format, st.integers(-(2**70), 2**70), st.integers(-(2**70), 2**70))
    near_now = st.builds("{}.{}".format, st.integers(0, 2**60), st.integers(0, 10**6))
    return st.sampled_from(tuple(CURSORS)) | pair | near_now


def near(choices: list[str]) -> st.SearchStrategy[str]:
    """A value a form takes, or one a little off it (case, spaces, a newline), or anything at all."""
    exact = st.sampled_from(tuple(choices))
    off = st.builds(lambda value, how: how(value), exact, st.sampled_from(
        (str.upper, str.title, lambda v: f" {v}", lambda v: f"{v}\n", lambda v: f"{v}\x00", lambda v: v * 2)))
    return exact | off | hostile_text()


FILTERS = {
    "q": hostile_text() | values.text(100),
    "kind": near(["task", "callback", ""]),
    "state": near([*State.values, ""]),
    "reason": near([value for value in Reason.values if value] + ["none", ""]),
    "feed": near(["100", "200", "201", "300", "400", "999"]) | st.sampled_from(tuple(NUMBERS)),
    "selector": near(["Sales", "Support", "none", "CallbackDN"]),
    "mrd": near(["1", "5000", "5001", "none", "999999999", "1234567890"]) | st.sampled_from(tuple(NUMBERS)),
    "window": near(["15m", "1h", "24h", "7d", "1d"]),
    "before": cursors(),
    "after": cursors(),
    "junk": hostile_text(),
}


_PARAMS: dict[int, st.SearchStrategy] = {}


def params(fields: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Some of `fields` (a name may come twice), in any order; one strategy per table, built once."""
    if id(fields) not in _PARAMS:
        pair = st.sampled_from(tuple(sorted(fields))).flatmap(lambda name: st.tuples(st.just(name), fields[name]))
        _PARAMS[id(fields)] = st.lists(pair, max_size=8)
    return _PARAMS[id(fields)]


def query(pairs: list[tuple[str, str]]) -> str:
    """WSGI's QUERY_STRING: the percent-encoded query, one character per byte."""
    return urlencode(pairs, quote_via=quote).encode().decode("latin-1")


ANY_NUMBER = st.sampled_from(tuple(NUMBERS)) | st.integers().map(str)
EVENTS = {"after": ANY_NUMBER, "limit": st.sampled_from(tuple(NUMBERS + ["1000", "1001"])),
          "contact": hostile_text() | st.text("0123456789ABCDEF", min_size=32, max_size=32)}
ALERT_FEED = {name: ANY_NUMBER for name in ("discards", "queue", "acks")} | {
    "open": st.sampled_from(("1", "1,2", "1,,2", ",", "9" * 18, "9" * 19, ",".join(["1"] * 500), "a")) | hostile_text(),
    "limit": st.sampled_from(tuple(NUMBERS + ["200", "201"])),
}
AUDIT = {"user": near(["admin", "supervisor", ""]), "action": near(["resubmit", "cancel", "acknowledge", "bulk_start"]),
         "before": ANY_NUMBER}
RESUBMIT = {"script_selector": st.sampled_from(("Sales", "Support", "NoScript", "Missing", "", "Sales\x00", "\x00",
                                                "x" * 33, " Sales ", "sales")) | values.text(32) | hostile_text(),
            "comment": hostile_text(), "discard_id": ANY_NUMBER}
ACK_NEXT = ["/", "/#alerts", "/contacts/", "//evil.example", "/\\evil.example", "https://evil.example/", "\\\\evil",
            "/\t/evil.example", "javascript:alert(1)", " //evil.example", "http://testserver/contacts/", "", "\x00"]
ACK = {"alert": st.sampled_from(("d1", "q1", "d", "x1", "d" + "9" * 18, "d" + "9" * 19, "q-1", "d\u0661", "D1"))
       | hostile_text(), "all": near(["on", "true", "1", "", "false"]),
       "discards_upto": ANY_NUMBER, "queue_upto": ANY_NUMBER, "next": st.sampled_from(tuple(ACK_NEXT)) | hostile_text()}
