"""Hostile query-string creates (spec §4: `name=`, `title=`, `scriptSelector=`, `mediaAddress=`, `tags=a,b`,
`variable_<name>=<value>`; empty values are ignored), written every way a browser or a script might.

`read()` is the oracle's reader: the raw query string as the standard library splits it (the WSGI server hands
Django the bytes as they came), then the contract's fields; of a field sent twice the last counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, quote_plus

from hypothesis import strategies as st

from . import values
from .contract import SCALARS, TEXT_FIELDS, Sent, refused_whole

MAX_FIELDS = 1000  # DATA_UPLOAD_MAX_NUMBER_FIELDS
# Written as they are in the "raw" style; a space, the controls and '#' never are (no HTTP request line has them).
_RAW_SAFE = set("=&+,;/:@!$'()*~%?[]")
JUNK = ["", "&", "=", "==", "%", "%zz", "%e9", "%ff=1", "a=%e9", ";name=x", "&=x", "name", "tags", "variable_",
        "%00=1", "name%00=x", "scriptSelector[]=x", "title[0]=y"]


@dataclass(frozen=True)
class Query:
    pairs: tuple[tuple[str, str, str], ...]  # key, value, how each is written: percent, plus or raw
    empty_fields: int = 0  # "&" added at the end (an HTML form's unnamed fields; > 1000 fields is refused)

    def render(self) -> str:
        """The query string as it is sent (without the '?')."""
        return "&".join(f"{_encode(key, how)}={_encode(value, how)}" if how != "junk" else key
                        for key, value, how in self.pairs) + "&" * self.empty_fields


def _encode(text: str, how: str) -> str:
    if how == "percent":
        return quote(text, safe="")
    if how == "plus":
        return quote_plus(text, safe="")
    return "".join(char if ord(char) > 0x7F or char.isalnum() and char.isascii() or char in _RAW_SAFE
                   else quote(char, safe="") for char in text)


def read(query: Query, kind: str) -> Sent:
    raw = query.render()
    if raw and 1 + raw.count("&") > MAX_FIELDS:
        return refused_whole("query")
    grouped: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        grouped.setdefault(key, []).append(value)
    sent = Sent()
    for key, sent_values in grouped.items():
        value = sent_values[-1].strip()
        if key.startswith("variable_"):
            if value:
                sent.variables.append((key.removeprefix("variable_"), value))
        elif key == "tags":
            sent.tags += [tag.strip() for item in sent_values for tag in item.split(",") if tag.strip()]
        elif key in SCALARS and value:
            sent.scalars[key] = value
    return sent


# --- strategies ----------------------------------------------------------------------------------------------

HOW = st.sampled_from(("percent", "plus", "raw"))


@st.composite
def queries(draw, kind: str) -> Query:
    payload = draw(values.payloads(kind, commas=False))
    pairs = [(name, value) for name, value in payload.scalars.items()]
    if payload.tags is not None:
        pairs.append(("tags", ",".join(payload.tags)))
    pairs += [(f"variable_{name}", value) for name, value in payload.variables or ()]
    for _ in range(draw(st.integers(0, 3))):
        pairs = draw(st.sampled_from(tuple(MUTATIONS)))(draw, kind, pairs)
    written = [(key, value, draw(HOW)) for key, value in draw(st.permutations(pairs))]
    for junk in draw(st.lists(st.sampled_from(tuple(JUNK)), max_size=2)):
        written.insert(draw(st.integers(0, len(written))), (junk, "", "junk"))
    empty = draw(st.sampled_from(tuple([0] * 12 + [1, 998, 999, 1000])))
    return Query(tuple(written), empty)


def _field(draw, kind) -> str:
    return draw(st.sampled_from((*TEXT_FIELDS[kind], "requeueOnRecovery")))


def _overlong(draw, kind, pairs):
    name = draw(st.sampled_from(tuple(list(TEXT_FIELDS[kind]))))
    return [*pairs, (name, draw(values.overlong(TEXT_FIELDS[kind][name][1])))]


def _hostile(draw, kind, pairs):
    char = draw(st.sampled_from(tuple(values.HOSTILE + values.LINE_BREAKS)))
    value = values.insert(draw(values.text(20)), char, draw(st.floats(0, 1)))
    key = draw(st.sampled_from((_field(draw, kind), "tags", "variable_cv_1", f"variable_{value}")))
    return [*pairs, (key, value)]


def _repeated(draw, kind, pairs):
    """A field sent again: with a value, or empty (as a form sends every field)."""
    return [*pairs, (_field(draw, kind), draw(st.just("") | values.text(30, single_line=True)))]


def _empty(draw, kind, pairs):
    return [*pairs, (draw(st.sampled_from((*SCALARS, "tags", "variable_cv_2", "variable_"))), draw(
        st.sampled_from(("", " ", "\t", ",", " , ,"))))]


def _variables(draw, kind, pairs):
    name = draw(st.sampled_from(("", " ", "cv_1 ", "user_user.x", "variable_", "x" * 200, "a=b", "\u202e"))
                | values.text(10))
    return [*pairs, (f"variable_{name}", draw(values.text(20) | st.just("")))]


def _many_tags(draw, kind, pairs):
    count = draw(st.integers(19, 23))
    split = draw(st.booleans())  # one tags=a,b,c or tags=a&tags=b
    if split:
        return [*pairs, *(("tags", f"t{i}") for i in range(count))]
    return [*pairs, ("tags", ",".join(f"t{i}" for i in range(count)))]


def _many_variables(draw, kind, pairs):
    return [*pairs, *((f"variable_cv_{i}", "v") for i in range(draw(st.integers(99, 102))))]


def _unknown(draw, kind, pairs):
    return [*pairs, (draw(st.sampled_from(tuple(values.UNKNOWN_NAMES)) | values.text(10)), draw(values.text(20)))]


def _wrong_flag(draw, kind, pairs):
    return [*pairs, ("requeueOnRecovery", draw(st.sampled_from(("yes", "1", "on", "TRUE", "false ", "nope"))))]


MUTATIONS = [_overlong, _hostile, _hostile, _repeated, _empty, _variables, _many_tags, _many_variables, _unknown,
             _wrong_flag]
