"""Hostile JSON create bodies (our extension of the contract, spec §4): trees written by hand, so they can carry
what `json.dumps` never writes (duplicate keys, numbers of any size, NaN, deep nesting, broken framing).

`read()` is the oracle's reader: the body as the standard library parses it (the last of duplicate keys wins),
then the contract's flat object: the XML element names as keys, `tags` a list of strings, `variables` a list of
`{"name", "value"}` objects; a scalar that is not a string (or null, not sent) is refused by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from hypothesis import strategies as st

from . import values
from .contract import MAX_BODY, RENOTIFY_FIELDS, SCALARS, Sent, limits, refused_whole


@dataclass(frozen=True)
class JString:
    text: str
    ascii: bool = False  # written with \\u escapes


@dataclass(frozen=True)
class JRaw:
    literal: str  # a number, true, false, null, NaN, Infinity


@dataclass(frozen=True)
class JArray:
    items: tuple = ()


@dataclass(frozen=True)
class JObject:
    pairs: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class JDeep:
    depth: int  # [[[ ... ]]]


@dataclass(frozen=True)
class JsonDocument:
    root: object
    encoding: str = "utf-8"  # or utf-8-sig (a BOM), utf-16-le, utf-16 (with its BOM)
    framing: str = ""  # "", or a way to break it: cut, comma, trailing, comment, quotes; or spaces around it


def render(document: JsonDocument) -> bytes:
    text = _write(document.root)
    framing = document.framing
    if framing == "cut":
        text = text[:-1]
    elif framing == "comma" and text.endswith("}") and len(text) > 2:
        text = text[:-1] + ",}"
    elif framing == "trailing":
        text += " x"
    elif framing == "comment":
        text = "/* note */" + text
    elif framing == "quotes":
        text = text.replace('"', "'", 2)
    elif framing == "spaces":
        text = f"\n\t {text} \r\n"
    return text.encode(document.encoding)


def _write(node) -> str:
    if isinstance(node, JString):
        ascii_only = node.ascii or any("\ud800" <= char <= "\udfff" for char in node.text)
        return json.dumps(node.text, ensure_ascii=ascii_only)
    if isinstance(node, JRaw):
        return node.literal
    if isinstance(node, JArray):
        return "[" + ", ".join(_write(item) for item in node.items) + "]"
    if isinstance(node, JObject):
        return "{" + ", ".join(f"{json.dumps(key)}: {_write(value)}" for key, value in node.pairs) + "}"
    return "[" * node.depth + "]" * node.depth


# --- reading, as the contract does ---------------------------------------------------------------------------


def read(document: JsonDocument, kind: str, scalars: tuple[str, ...] = SCALARS) -> Sent:
    """What the contract takes from `document` (a create of `kind`, or with `scalars`, a renotify)."""
    body = render(document)
    if len(body) > MAX_BODY:
        return refused_whole("body", 413)
    try:
        body.decode("utf-8")
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return refused_whole("body")
    if not isinstance(parsed, dict):
        return refused_whole("body")
    sent = Sent()
    for key, value in parsed.items():
        if key in scalars:
            if key == "requeueOnRecovery" and isinstance(value, bool):
                value = "true" if value else "false"
            if value is None:
                continue
            if not isinstance(value, str):
                sent.refused.add(key)
            elif value.strip():
                sent.scalars[key] = value.strip()
        elif key == "tags" and value is not None:
            if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
                sent.tags += [tag.strip() for tag in value if tag.strip()]
            else:
                sent.refused.add("tags")
        elif key == "variables" and value is not None:
            _read_variables(sent, value)
    return sent


def _read_variables(sent: Sent, value) -> None:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        sent.refused.add("variables")
        return
    for item in value:
        name, text = item.get("name"), item.get("value")
        if not isinstance(name, str | None) or not isinstance(text, str | None):
            sent.refused.add("variables")
            return
        sent.variables.append(((name or "").strip(), (text or "").strip()))


# --- strategies ----------------------------------------------------------------------------------------------

ANY_JSON = st.recursive(
    st.sampled_from((JRaw("null"), JRaw("true"), JRaw("0"), JRaw("-0.0"), JRaw("1e400"), JRaw("NaN"),
                     JRaw("-Infinity"), JRaw("9" * 30), JString("x"), JString("\x00\ud800", ascii=True)))
    | st.builds(JString, values.text(20), st.booleans()),
    lambda inner: st.builds(JArray, st.lists(inner, max_size=4).map(tuple))
    | st.builds(JObject, st.lists(st.tuples(st.sampled_from(("name", "a", "")) | values.text(8), inner),
                                  max_size=4).map(tuple)),
    max_leaves=12,
)
WRONG_SCALARS = [JRaw("4711"), JRaw("true"), JRaw("false"), JArray((JString("a"),)), JObject(()), JRaw("1e400"),
                 JRaw("NaN"), JRaw("-1"), JArray(()), JObject((("name", JString("Ada")),))]


def _string(draw, value: str) -> JString:
    return JString(value, ascii=draw(st.booleans()))


@st.composite
def base_pairs(draw, kind: str) -> list[tuple[str, object]]:
    payload = draw(values.payloads(kind))
    pairs = []
    for name, value in payload.scalars.items():
        if name == "requeueOnRecovery" and draw(st.booleans()):
            pairs.append((name, JRaw(value.strip().lower())))
        else:
            pairs.append((name, _string(draw, value)))
    if payload.tags is not None:
        pairs.append(("tags", JArray(tuple(_string(draw, tag) for tag in payload.tags))))
    if payload.variables is not None:
        items = tuple(JObject((("name", _string(draw, name)), ("value", _string(draw, value))))
                      for name, value in payload.variables)
        pairs.append(("variables", JArray(items)))
    return pairs


@st.composite
def renotify_pairs(draw) -> list[tuple[str, object]]:
    chosen = draw(st.dictionaries(st.sampled_from(tuple(list(RENOTIFY_FIELDS))), st.just(None)))
    return [(name, _string(draw, draw(values.text(RENOTIFY_FIELDS[name])))) for name in chosen]


def _scalar_key(draw, pairs, fields: dict[str, int]) -> int | None:
    found = [i for i, (key, _) in enumerate(pairs) if key in fields]
    return draw(st.sampled_from(tuple(found))) if found else None


def _set(pairs, at: int, value) -> list:
    pairs = list(pairs)
    pairs[at] = (pairs[at][0], value)
    return pairs


def _wrong_type(draw, fields, pairs):
    key = draw(st.sampled_from(sorted({*SCALARS, *fields})))
    return [*[pair for pair in pairs if pair[0] != key], (key, draw(st.sampled_from(tuple(WRONG_SCALARS)))), ]


def _wrong_lists(draw, fields, pairs):
    key = draw(st.sampled_from(("tags", "variables")))
    value = draw(st.sampled_from((
        JRaw("null"), JString("a,b"), JRaw("3"), JObject(()), JArray((JArray((JString("a"),)),)),
        JArray((JRaw("null"),)), JArray((JRaw("1"),)), JArray((JString("cv_1"),)),
        JArray((JObject((("name", JRaw("1")), ("value", JString("x")))),)),
        JArray((JObject((("name", JString("cv_1")),)),)),
        JArray((JObject((("value", JString("no name")),)),)),
        JArray((JObject((("name", JString("cv_1")), ("value", JRaw("null")), ("extra", JArray((JRaw("1"),))))),)),
        JArray((JObject((("name", JString("cv_1")), ("value", JObject(())))),)),
    )))
    return [*[pair for pair in pairs if pair[0] != key], (key, value)]


def _unknown(draw, fields, pairs):
    return [*pairs, (draw(st.sampled_from(tuple(values.UNKNOWN_NAMES))), draw(ANY_JSON))]


def _deep(draw, fields, pairs):
    # One in ten past any recursion limit (the body is refused whole), the others within it.
    depth = draw(st.integers(1, 200)) if draw(st.integers(0, 9)) else draw(st.sampled_from((20_000, 100_000)))
    return [*pairs, ("nested", JDeep(depth))]


def _number(draw, fields, pairs):
    digits = draw(st.sampled_from((20, 400, 4300, 4301, 10_000)))
    sign = draw(st.sampled_from(("", "-")))
    return [*pairs, (draw(st.sampled_from(("big", "name", "title"))), JRaw(sign + "9" * digits))]


def _duplicate(draw, fields, pairs):
    if not pairs:
        return pairs
    key = draw(st.sampled_from(tuple(key for key, _ in pairs)))
    value = draw(st.builds(JString, values.text(30, single_line=True)) | st.sampled_from(tuple(WRONG_SCALARS)))
    return [*pairs, (key, value)]


def _hostile(draw, fields, pairs):
    char = draw(st.sampled_from(tuple(values.HOSTILE + values.LINE_BREAKS + ["\ud800", "\udfff"])))
    value = JString(values.insert(draw(values.text(20)), char, draw(st.floats(0, 1))), ascii=draw(st.booleans()))
    target = draw(st.sampled_from(("scalar", "tag", "variable")))
    at = _scalar_key(draw, pairs, fields)
    if target == "tag":
        return [*pairs, ("tags", JArray((value,)))]
    if target == "variable" or at is None:
        return [*pairs, ("variables", JArray((JObject((("name", value), ("value", JString("v")))),)))]
    return _set(pairs, at, value)


def _overlong(draw, fields, pairs):
    at = _scalar_key(draw, pairs, fields)
    if at is None:
        return pairs
    return _set(pairs, at, JString(draw(values.overlong(fields[pairs[at][0]]))))


def _missing(draw, fields, pairs):
    at = _scalar_key(draw, pairs, fields)
    if at is None:
        return pairs
    if draw(st.booleans()):
        return [pair for i, pair in enumerate(pairs) if i != at]
    return _set(pairs, at, draw(st.sampled_from((JString(""), JString(" \t\n"), JRaw("null")))))


def _many(draw, fields, pairs):
    count = draw(st.integers(19, 23) | st.integers(99, 103))
    if count < 50:
        return [*pairs, ("tags", JArray(tuple(JString(f"t{i}") for i in range(count))))]
    items = tuple(JObject((("name", JString(f"cv_{i}")), ("value", JString("v")))) for i in range(count))
    return [*pairs, ("variables", JArray(items))]


MUTATIONS = [_wrong_type, _wrong_lists, _unknown, _unknown, _deep, _number, _duplicate, _duplicate, _hostile,
             _hostile, _overlong, _missing, _many]


def documents(kind: str) -> st.SearchStrategy[JsonDocument]:
    """Create bodies for `kind`."""
    return mutated(limits(kind), base_pairs(kind))


def renotify_documents() -> st.SearchStrategy[JsonDocument]:
    return mutated(RENOTIFY_FIELDS, renotify_pairs())


@st.composite
def mutated(draw, fields: dict[str, int], base) -> JsonDocument:
    """A valid object (`base`) with up to three mutations aimed at `fields`, written with or without faults."""
    pairs = draw(base)
    for mutation in draw(st.lists(st.sampled_from(tuple(MUTATIONS)), max_size=3)):
        pairs = mutation(draw, fields, pairs)
    root: object = JObject(tuple(draw(st.permutations(pairs))))
    shape = draw(st.sampled_from(tuple(["object"] * 15 + ["array", "string", "null"])))
    if shape == "array":
        root = JArray((root,))
    elif shape != "object":
        root = JString("{}") if shape == "string" else JRaw("null")
    document = JsonDocument(root)
    if draw(st.integers(0, 5)) == 0:
        document = replace(document, framing=draw(st.sampled_from(("cut", "comma", "trailing", "comment", "quotes",
                                                                   "spaces"))))
    if draw(st.integers(0, 7)) == 0:
        document = replace(document, encoding=draw(st.sampled_from(("utf-8-sig", "utf-16-le", "utf-16"))))
    return document
