"""Values a client may send (every shape draws its payloads here), and the hostile characters slipped into them."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from hypothesis import strategies as st

from .contract import TEXT_FIELDS

# Kept by the API: markup, quoting and formula characters, right-to-left letters and marks, joiners, no-break and
# ideographic spaces, emoji, a combining mark, a BOM inside text, a tag character, look-alike digits and letters.
INTERESTING = "<>&'\"]%+=,;#?/\\{}$@\u05d0\u0627\u200e\u200f\u061c\u200d\u00a0\u3000\U0001f600\u0301\ufeff\U000e0041" \
    "\ufb01\u0130\u00df\U0001d7d7\u0661\uff21\U0010fffd"
# Put in front of a value now and then: sequences that mean something to XML, templates and spreadsheets.
PREFIXES = ["", "", "", "]]>", "${x}", "=1+1", "@SUM(A1)", "{{ x }}", "e\u0301", "<![CDATA[", "&amp;", "\r\n"]
# Refused wherever they appear in a value: C0 and C1 controls, DEL, U+FFFE/U+FFFF (XML cannot carry them, or the
# API refuses them), bidirectional embeddings, overrides and isolates; and line breaks, refused in a name.
HOSTILE = [
    "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\x9b", "\u202a", "\u202b", "\u202c",
    "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\ufffe", "\uffff",
]
LINE_BREAKS = ["\n", "\r", "\r\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e"]
_REFUSED_CHARS = "".join(HOSTILE) + "\ufffe\uffff"

VARIABLE_NAMES = ["cv_1", "cv_2", "cv_10", "cv_11", "user_user.order", "user_user.a.b", "user_nodot", "mediaType",
                  "podRefURL", "customerTier", "x", "cv_1 ", "user_"]
UNKNOWN_NAMES = ["extra", "Name", "NAME", "scriptselector", "tag", "variable", "author", "id", "refURL", "status",
                 "ApiErrors", "Task", "Contact", "xml-stylesheet", "a.b", "a_b", "\u00e9l\u00e9ment"]


@cache
def _chars(single_line: bool) -> st.SearchStrategy[str]:
    plain = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters=_REFUSED_CHARS)
    extra = INTERESTING + ("" if single_line else "\t\n\r")
    return plain | st.sampled_from(tuple(extra))


def _fit(value: str, max_chars: int) -> str:
    """`value` cut to `max_chars`, and never blank (a blank value is a value not sent)."""
    value = value[:max_chars]
    return value if value.strip() else "x" + value[1:]


@cache  # built once: Hypothesis checks every new strategy, which costs more than the draw
def text(max_chars: int = 60, *, single_line: bool = False) -> st.SearchStrategy[str]:
    """A value the API keeps: not blank, at most `max_chars`, only characters it accepts."""
    prefixes = [prefix for prefix in PREFIXES if not (single_line and "\n" in prefix)]
    short = st.builds(lambda prefix, rest: _fit(prefix + rest, max_chars), st.sampled_from(tuple(prefixes)),
                      st.text(_chars(single_line), min_size=1, max_size=min(max_chars, 24)))
    if max_chars <= 40:
        return short
    # One in ten exactly at the limit (built from two characters: drawing thousands one by one is slow).
    char = st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.sampled_from(tuple(INTERESTING))
    full = st.builds(lambda fill, last: _fit(fill * (max_chars - 1) + last, max_chars), char, char)
    return st.one_of(*[short] * 9, full)


@cache
def overlong(max_chars: int) -> st.SearchStrategy[str]:
    """Longer than `max_chars` even once trimmed."""
    return st.builds(lambda extra, char: char * (max_chars + extra), st.integers(1, 50) | st.just(max_chars * 9),
                     st.sampled_from(("x", "\u00e9", "\U0001f600", "\u05d0")))


def insert(value: str, char: str, where: float) -> str:
    """`value` with `char` inside it (never at an end, where trimming could take it away)."""
    at = max(1, min(len(value) - 1, int(len(value) * where))) if len(value) > 1 else 1
    return f"{value[:at]}{char}{value[at:]}" if len(value) > 1 else f"{value}{char}{value}"


@dataclass(frozen=True)
class Payload:
    """A create request the API must accept, by wire name; None: the element/key is not sent at all."""

    scalars: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] | None = None
    variables: tuple[tuple[str, str], ...] | None = None


@cache
def variable_names() -> st.SearchStrategy[str]:
    return st.sampled_from(tuple(VARIABLE_NAMES)) | text(32, single_line=True)


@cache
@st.composite
def payloads(draw, kind: str, *, commas: bool = True) -> Payload:
    """A valid payload for `kind`; `commas=False` keeps commas out of tags (a query string's tags are split on them)."""
    scalars = {}
    for wire, (_, max_chars, required) in TEXT_FIELDS[kind].items():
        if required or draw(st.booleans()):
            scalars[wire] = draw(text(max_chars, single_line=wire == "name"))
    if kind == "task" and draw(st.booleans()):
        scalars["requeueOnRecovery"] = draw(st.sampled_from(("true", "false", "True", "FALSE", " true ")))
    tag = text(30) if commas else text(30).map(lambda value: value.replace(",", ";"))
    tags = draw(st.none() | st.lists(tag, max_size=5).map(tuple))
    variable = st.tuples(variable_names(), text(50) | st.just(""))
    variables = draw(st.none() | st.lists(variable, max_size=5).map(tuple))
    return Payload(scalars, tags, variables)
