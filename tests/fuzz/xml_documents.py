"""Hostile XML bodies as trees: `render()` writes them, `read()` is the oracle's reader of them (what the contract
takes from a `<Task>`/`<Contact>`: its children by local name, their text); tests.fuzz.xml_mutations builds them.

A tree records how each value is written (plain, CDATA, character and entity references, split by comments) so
the reader can say what an XML parser makes of it: line ends normalised in the raw text, references kept as
written, the text before an element's first child.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from xml.sax.saxutils import escape

from .contract import MAX_BODY, ROOTS, SCALARS, Sent, is_xml_text, refused_whole


@dataclass(frozen=True)
class Text:
    text: str  # character data: &, < and > escaped, anything else written as it is (a raw CR, a control)


@dataclass(frozen=True)
class CData:
    text: str


@dataclass(frozen=True)
class CharRef:
    code: int
    hex: bool = False


@dataclass(frozen=True)
class EntityRef:
    name: str


@dataclass(frozen=True)
class Comment:
    text: str = " note "


@dataclass(frozen=True)
class Instruction:
    text: str = "x"


@dataclass(frozen=True)
class Deep:
    depth: int  # an unknown element nested this deep


@dataclass(frozen=True)
class Broken:
    data: bytes  # bytes that are not UTF-8


@dataclass(frozen=True)
class Element:
    name: str
    content: tuple = ()
    prefix: str = ""  # DECLARED (the root declares it) or any other (unbound)
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Document:
    root: Element
    encoding: str | None = None  # None: no XML declaration; "": one without an encoding
    bom: bool = False
    before: str = ""  # whitespace before everything
    doctype: str = ""
    default_namespace: str = ""
    after: str = ""  # after the root element
    cut: int = 0  # bytes dropped from the end of the root element


PREDEFINED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
DECLARED = "c"
NAMESPACE = "urn:ccpdash:fuzz"


# --- writing -------------------------------------------------------------------------------------------------


def render(document: Document) -> bytes:
    declaration = b""
    if document.encoding is not None:
        encoding = f' encoding="{document.encoding}"' if document.encoding else ""
        declaration = f'<?xml version="1.0"{encoding}?>'.encode()
    namespaces = f' xmlns:{DECLARED}="{NAMESPACE}"'
    if document.default_namespace:
        namespaces += f' xmlns="{document.default_namespace}"'
    root = _element(document.root, namespaces)
    root = root[: len(root) - document.cut]  # always inside the closing tag: no document ends there
    return b"".join([b"\xef\xbb\xbf" if document.bom else b"", document.before.encode(), declaration,
                     document.doctype.encode(), root, document.after.encode()])


def _element(element: Element, extra: str = "") -> bytes:
    tag = f"{element.prefix}:{element.name}" if element.prefix else element.name
    attributes = "".join(f' {name}="{escape(value, {chr(34): "&quot;"})}"' for name, value in element.attributes)
    inner = b"".join(_node(node) for node in element.content)
    return f"<{tag}{extra}{attributes}>".encode() + inner + f"</{tag}>".encode()


def _node(node) -> bytes:
    if isinstance(node, Element):
        return _element(node)
    if isinstance(node, Text):
        return escape(node.text).encode()
    if isinstance(node, CData):
        return f"<![CDATA[{node.text}]]>".encode()
    if isinstance(node, CharRef):
        return (f"&#x{node.code:X};" if node.hex else f"&#{node.code};").encode()
    if isinstance(node, EntityRef):
        return f"&{node.name};".encode()
    if isinstance(node, Comment):
        return f"<!--{node.text}-->".encode()
    if isinstance(node, Instruction):
        return f"<?fuzz {node.text}?>".encode()
    if isinstance(node, Deep):
        return b"<d>" * node.depth + b"</d>" * node.depth
    return node.data


# --- reading, as the contract does ---------------------------------------------------------------------------


def read(document: Document, kind: str) -> Sent:
    """What the contract takes from `document` as a create of `kind`, or why it refuses the whole body."""
    return read_as(document, ROOTS[kind], SCALARS)


def read_as(document: Document, root: str, scalars: tuple[str, ...]) -> Sent:
    """What the contract takes from `document` with this root and these scalar elements (a create, a renotify)."""
    body = render(document)
    if len(body) > MAX_BODY:
        return refused_whole("body", 413)
    if not _readable(document, body) or document.root.name != root:
        return refused_whole("body")
    sent = Sent()
    for child in _elements(document.root):
        if child.name in scalars:
            sent.put(child.name, text_of(child).strip())
        elif child.name == "tags":
            sent.tags += [tag for item in _elements(child, "tag") if (tag := text_of(item).strip())]
        elif child.name == "variables":
            sent.variables += [(_child_text(item, "name"), _child_text(item, "value"))
                               for item in _elements(child, "variable")]
    return sent


def _readable(document: Document, body: bytes) -> bool:
    """Well-formed UTF-8 XML without a DTD, in an encoding the API reads (spec §4, README "Input")."""
    if document.doctype or document.cut or document.after.strip(" \n") not in ("", "<!-- done -->"):
        return False
    if document.before and document.encoding is not None:
        return False  # the XML declaration must come first
    if not _encoding_readable(document.encoding, body):
        return False
    return _well_formed(document.root)


def _encoding_readable(encoding: str | None, body: bytes) -> bool:
    if not encoding:
        return True
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return False
    if name not in ("utf-8", "ascii"):
        return False
    # Only UTF-8 by that name reads the whole of Unicode; the other names read ASCII and nothing else (after a
    # byte order mark, which the parser skips whatever the declaration says).
    return encoding.lower() == "utf-8" or body.removeprefix(b"\xef\xbb\xbf").isascii()


def _well_formed(element: Element) -> bool:
    if element.prefix and element.prefix != DECLARED:
        return False
    if not all(is_xml_text(value) for _, value in element.attributes):
        return False
    for node in element.content:
        if isinstance(node, Element) and not _well_formed(node):
            return False
        if isinstance(node, Text | CData | Comment) and not is_xml_text(node.text):
            return False
        if isinstance(node, CharRef) and not (node.code <= 0x10FFFF and is_xml_text(chr(node.code))):
            return False
        if isinstance(node, EntityRef) and node.name not in PREDEFINED:
            return False
        if isinstance(node, Broken):
            return False
    return True


def _elements(element: Element, name: str | None = None) -> list[Element]:
    return [node for node in element.content if isinstance(node, Element) and name in (None, node.name)]


def _child_text(element: Element, name: str) -> str:
    found = _elements(element, name)
    return text_of(found[0]).strip() if found else ""


def text_of(element: Element) -> str:
    """The element's text before its first child element, as a parser gives it: comments and processing
    instructions leave no trace, line ends are normalised in each raw run, references stay as written."""
    parts, run = [], []
    for node in element.content:
        if isinstance(node, Element | Deep):
            break
        if isinstance(node, Text):
            run.append(node.text)
            continue
        parts.append(_normalise("".join(run)))
        run = []
        if isinstance(node, CData):
            parts.append(_normalise(node.text))
        elif isinstance(node, CharRef):
            parts.append(chr(node.code))
        elif isinstance(node, EntityRef):
            parts.append(PREDEFINED[node.name])
    return "".join(parts) + _normalise("".join(run))


def _normalise(raw: str) -> str:
    return raw.replace("\r\n", "\n").replace("\r", "\n")
