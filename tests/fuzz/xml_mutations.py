"""Strategies for hostile XML bodies: a valid create or renotify document, then up to three mutations, each of which
may or may not make it invalid (tests.fuzz.xml_documents reads what the contract makes of the result)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from . import values
from .contract import MAX_BODY, RENOTIFY_FIELDS, ROOTS, limits
from .xml_documents import (
    DECLARED,
    NAMESPACE,
    PREDEFINED,
    Broken,
    CData,
    CharRef,
    Comment,
    Deep,
    Document,
    Element,
    EntityRef,
    Instruction,
    Text,
)

DOCTYPES = [
    "<!DOCTYPE Task>",
    '<!DOCTYPE Task SYSTEM "http://example.com/task.dtd">',
    '<!DOCTYPE Task [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
    '<!DOCTYPE Task [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE Task [<!ELEMENT Task ANY>]>',
]
ENCODINGS = ["UTF-8", "utf-8", "Utf-8", "utf8", "UTF8", "US-ASCII", "ascii", "ISO-8859-1", "latin-1", "UTF-16",
             "utf-16le", "cp1252", "cp500", "x-unknown", "", "8bit"]


STYLES = st.sampled_from(("plain", "plain", "cdata", "references", "split", "padded"))
SEPARATORS = st.sampled_from((Comment(), Instruction()))
PADDING = st.sampled_from((" ", "\n  ", "\t", "\r\n"))


def written(draw, value: str) -> tuple:
    """`value` written one of the ways XML allows, all of which read back as `value` (line ends aside)."""
    style = draw(STYLES)
    if style == "cdata" and "]]>" not in value:
        return (CData(value),)
    if style == "references":
        at = draw(st.integers(0, len(value) - 1))
        return Text(value[:at]), CharRef(ord(value[at]), hex=draw(st.booleans())), Text(value[at + 1:])
    if style == "split":
        at = draw(st.integers(0, len(value)))
        return Text(value[:at]), draw(SEPARATORS), Text(value[at:])
    if style == "padded":
        return Text(draw(PADDING)), Text(value), Text(" \n")
    return (Text(value),)


def _scalar(draw, name: str, value: str) -> Element:
    return Element(name, written(draw, value))


@st.composite
def base_elements(draw, kind: str) -> list[Element]:
    payload = draw(values.payloads(kind))
    elements = [_scalar(draw, name, value) for name, value in payload.scalars.items()]
    if payload.tags is not None:
        elements.append(Element("tags", tuple(_scalar(draw, "tag", tag) for tag in payload.tags)))
    if payload.variables is not None:
        items = [Element("variable", (_scalar(draw, "name", name), _scalar(draw, "value", value) if value else
                                      Element("value"))) for name, value in payload.variables]
        elements.append(Element("variables", tuple(items)))
    return elements


@st.composite
def renotify_elements(draw) -> list[Element]:
    chosen = draw(st.dictionaries(st.sampled_from(tuple(list(RENOTIFY_FIELDS))), st.just(None)))
    return [_scalar(draw, name, draw(values.text(RENOTIFY_FIELDS[name]))) for name in chosen]


def _pick_scalar(draw, elements: list[Element], fields: dict[str, int]) -> int | None:
    found = [i for i, element in enumerate(elements) if element.name in fields]
    return draw(st.sampled_from(tuple(found))) if found else None


@st.composite
def mutated(draw, root: str, fields: dict[str, int], base: st.SearchStrategy[list[Element]]) -> Document:
    """A valid document (`base` under `root`) with up to three mutations; each may or may not make it invalid.
    `fields` are the text elements the mutations aim at, with their limits."""
    elements = draw(base)
    document = Document(Element(root))
    for mutation in draw(st.lists(st.sampled_from(tuple(MUTATIONS)), max_size=3)):
        elements, document = mutation(draw, fields, elements, document)
    order = draw(st.permutations(elements))
    return replace(document, root=replace(document.root, content=(*document.root.content, *order)))


def _unknown(draw, fields, elements, document):
    content = draw(st.sampled_from(((Text("value"),), (Deep(3),), (Element("name", (Text("inner"),)),),
                                    (Element("tags", (Element("tag", (Text("t"),)),)),), ())))
    return [*elements, Element(draw(st.sampled_from(tuple(values.UNKNOWN_NAMES))), content)], document


def _deep(draw, fields, elements, document):
    # One in ten very deep (hundreds of kilobytes of markup): each one costs as much as a hundred small bodies.
    depth = draw(st.integers(1, 500)) if draw(st.integers(0, 9)) else draw(st.sampled_from((10_000, 60_000)))
    return [*elements, Element("nested", (Deep(depth),))], document


def _duplicate(draw, fields, elements, document):
    at = _pick_scalar(draw, elements, fields)
    if at is None:
        return elements, document
    copy = _scalar(draw, elements[at].name, draw(values.text(30, single_line=True)))
    return [*elements, copy], document


def _overlong(draw, fields, elements, document):
    at = _pick_scalar(draw, elements, fields)
    if at is None:
        return elements, document
    name = elements[at].name
    elements = list(elements)
    elements[at] = _scalar(draw, name, draw(values.overlong(fields[name])))
    return elements, document


def _hostile(draw, fields, elements, document):
    """A hostile character inside a value, a tag or a variable: written raw or as a character reference."""
    at = _pick_scalar(draw, elements, fields)
    char = draw(st.sampled_from(tuple(values.HOSTILE + values.LINE_BREAKS)))
    value = draw(values.text(20))
    where = draw(st.floats(0, 1))
    if draw(st.booleans()) and len(char) == 1:
        head, tail = values.insert(value, "\0", where).split("\0")
        pieces = (Text(head), CharRef(ord(char), hex=draw(st.booleans())), Text(tail))
    else:
        pieces = (Text(values.insert(value, char, where)),)
    target = draw(st.sampled_from(("scalar", "tag", "variable")))
    if target == "tag":
        return [*elements, Element("tags", (Element("tag", pieces),))], document
    if target == "variable" or at is None:
        variable = Element("variable", (Element("name", pieces), Element("value", (Text("v"),))))
        return [*elements, Element("variables", (variable,))], document
    elements = list(elements)
    elements[at] = Element(elements[at].name, pieces)
    return elements, document


def _wrong_shape(draw, fields, elements, document):
    choice = draw(st.sampled_from((
        Element("requeueOnRecovery", (Text(draw(st.sampled_from(("yes", "1", "0", "on", "truee", "t")))),)),
        Element("name", (Text("Ada "), Element("first", (Text("Lovelace"),)), Text(" tail"))),
        Element("tags", (Text("a,b"),)),
        Element("tags", (Element("tag", (Element("tag", (Text("nested"),)),)),)),
        Element("variables", (Element("variable", (Text("cv_1=4711"),)),)),
        Element("variables", (Element("variable", (Element("value", (Text("no name"),)),)),)),
        Element("variables", (Element("variable", (Element("name", (Text("cv_1"),)), Element("name", (Text("x"),)),
                                                   Element("value", (Text("1"),)))),)),
    )))
    return [element for element in elements if element.name != choice.name] + [choice], document


def _namespaces(draw, fields, elements, document):
    choice = draw(st.sampled_from(("default", "declared", "unbound", "root")))
    if choice == "default":
        return elements, replace(document, default_namespace=draw(st.sampled_from((NAMESPACE, "urn:x", ""))))
    if choice == "root":
        return elements, replace(document, root=replace(document.root, prefix=DECLARED))
    if not elements:
        return elements, document
    at = draw(st.integers(0, len(elements) - 1))
    elements = list(elements)
    elements[at] = replace(elements[at], prefix=DECLARED if choice == "declared" else "zz")
    return elements, document


def _prolog(draw, fields, elements, document):
    encoding = draw(st.none() | st.sampled_from(tuple(ENCODINGS)))
    return elements, replace(document, encoding=encoding, bom=draw(st.booleans()),
                             before=draw(st.sampled_from(("", "", " ", "\n"))))


def _doctype(draw, fields, elements, document):
    return elements, replace(document, doctype=draw(st.sampled_from(tuple(DOCTYPES))))


def _entity(draw, fields, elements, document):
    at = _pick_scalar(draw, elements, fields)
    if at is None:
        return elements, document
    name = draw(st.sampled_from((*PREDEFINED, "nbsp", "copy", "x")))
    elements = list(elements)
    elements[at] = Element(elements[at].name, (Text("a"), EntityRef(name), Text("b")))
    return elements, document


def _missing(draw, fields, elements, document):
    at = _pick_scalar(draw, elements, fields)
    if at is None:
        return elements, document
    elements = list(elements)
    blank = draw(st.sampled_from(((), (Text(" \t\n "),), (CData(""),), (Comment(),))))
    if draw(st.booleans()):
        del elements[at]
    else:
        elements[at] = Element(elements[at].name, blank)
    return elements, document


def _many(draw, fields, elements, document):
    count = draw(st.integers(19, 23) | st.integers(99, 103))
    if count < 50:
        return [*elements, Element("tags", tuple(Element("tag", (Text(f"t{i}"),)) for i in range(count)))], document
    items = tuple(Element("variable", (Element("name", (Text(f"cv_{i}"),)), Element("value", (Text("v"),))))
                  for i in range(count))
    return [*elements, Element("variables", items)], document


def _root(draw, fields, elements, document):
    name = draw(st.sampled_from(("Task", "Contact", "task", "SocialContact", "ApiErrors")))
    return elements, replace(document, root=replace(document.root, name=name))


def _framing(draw, fields, elements, document):
    choice = draw(st.sampled_from(("after", "cut", "attributes", "broken")))
    if choice == "after":
        return elements, replace(document, after=draw(st.sampled_from(("\n", "<!-- done -->", "junk", "<Task/>"))))
    if choice == "cut":
        return elements, replace(document, cut=draw(st.integers(1, 4)))
    if choice == "attributes":
        attributes = (("xml:lang", "en"), ("id", "1"), ("type", "<&\">"))
        return elements, replace(document, root=replace(document.root, attributes=attributes))
    broken = Broken(draw(st.sampled_from((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf"))))
    return [*elements, Element("extra", (Text("a"), broken))], document


def _padding(draw, fields, elements, document):
    size = MAX_BODY + draw(st.integers(-400, 400))
    return [*elements, Element("padding", (Text("x" * size),))], document


# Weighted by repetition: the cheap mutations often, a body of about 1 MB (the limit's edge) rarely.
MUTATIONS = [
    *[_unknown, _duplicate, _overlong, _hostile, _wrong_shape, _namespaces, _prolog, _missing] * 3,
    _hostile, _deep, _deep, _doctype, _doctype, _entity, _entity, _many, _many, _root, _framing, _framing, _padding,
]


def documents(kind: str) -> st.SearchStrategy[Document]:
    """Create bodies for `kind`."""
    return mutated(ROOTS[kind], limits(kind), base_elements(kind))


def renotify_documents() -> st.SearchStrategy[Document]:
    """Renotify bodies: `<Task><scriptSelector/><reNotifyReason/></Task>`."""
    return mutated("Task", RENOTIFY_FIELDS, renotify_elements())
