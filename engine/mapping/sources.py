"""What rules read: a message, or one item of it, addressed in its format's own paths.

Every document answers `get(path)` (the first value as text, "" when absent),
`select(path)` (the items a `for_each` or `via` walks) and `text()` (its own value):

- HL7 v2: `PID-5.1`, `PID-3[2].4`, `OBX[2]-5`. `select("OBX")` gives segments (inside
  one, `OBX-5` is that segment's field); inside a segment, `select("NTE")` gives the NTEs
  of its group (after it, before the next segment like it: an OBX's notes, an OBR's
  OBXs); `select("PID-3")` gives the field's repetitions, inside which paths are
  component numbers: `1`, `4.2`.
- XML: XPath 1.0 with the prefixes the mapping declares, relative to the item.
- EDIFACT: XPath over the interchange read as a tree (engine.formats.edifact.tree):
  `Message/S01[NAD/e1='SSP']/NAD/e4/c1`. Values are exactly as sent (not trimmed).
- FHIR: FHIRPath (fhirpathpy, R4 model), relative to the item.

An XML mapping may declare a prefix as "*": it then stands for the namespace of the
message's root element, whatever it is (OIOXML letters come in several namespaces).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Protocol

from lxml import etree

from engine.formats.edifact.tree import to_tree
from engine.formats.hl7v2 import HL7Message, parse_path
from engine.mapping.edifact_filters import edifact_text_segments
from engine.mapping.fhirpath import compile_fhirpath

_SEGMENT = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_BREAKS = frozenset({"br", "Break"})  # line breaks in MedCom formatted text
_WRAPPED = re.compile(r"[ \t\r]*\n\s*")  # a line break in the XML text itself: a space
_SPACES = frozenset({"Space"})


class SourceDoc(Protocol):
    def get(self, path: str) -> str: ...

    def select(self, path: str) -> list[SourceDoc]: ...

    def text(self) -> str: ...


class Hl7Doc:
    """A whole HL7 v2 message, or (with `index`) one segment of it."""

    __slots__ = ("index", "message", "name")

    def __init__(self, message: HL7Message, index: int = -1, name: str = "") -> None:
        self.message, self.index, self.name = message, index, name

    def get(self, path: str) -> str:
        segment, seg_rep, field, rep, comp, sub = parse_path(path)
        if self.index >= 0 and segment == self.name and seg_rep == 1:
            return self.message.value_at(self.index, field, rep, comp, sub)
        return self.message.value(segment, seg_rep, field, rep, comp, sub)

    def select(self, path: str) -> list[SourceDoc]:
        if _SEGMENT.match(path):
            indexes = self.message.segment_indexes(path)
            if self.index >= 0 and path != self.name:
                indexes = self._in_group(indexes)
            return [Hl7Doc(self.message, i, path) for i in indexes]
        segment, seg_rep, field, _, _, _ = parse_path(path)
        if self.index >= 0 and segment == self.name and seg_rep == 1:
            index = self.index
        else:
            indexes = self.message.segment_indexes(segment)
            if len(indexes) < seg_rep:
                return []
            index = indexes[seg_rep - 1]
        fields = self.message.fields(index)
        raw = fields[field] if field < len(fields) else ""
        separator = self.message.separators.repetition
        repetitions = raw.split(separator) if separator else [raw]
        return [Hl7FieldDoc(self.message, r) for r in repetitions if r]

    def text(self) -> str:
        return self.message.text if self.index < 0 else "|".join(self.message.fields(self.index))

    def _in_group(self, indexes: list[int]) -> list[int]:
        """Those after this segment and before the next segment with this one's name."""
        following = [i for i in self.message.segment_indexes(self.name) if i > self.index]
        end = following[0] if following else len(self.message.segments())
        return [i for i in indexes if self.index < i < end]


class Hl7FieldDoc:
    """One repetition of a field: paths are component numbers, `1` or `4.2`."""

    __slots__ = ("message", "raw")

    def __init__(self, message: HL7Message, raw: str) -> None:
        self.message, self.raw = message, raw

    def get(self, path: str) -> str:
        comp, _, sub = path.partition(".")
        try:
            return self.message.narrow(self.raw, 1, int(comp), int(sub or 0))
        except ValueError:
            raise ValueError(f"{path!r}: inside a field, paths are components: 1, 4.2") from None

    def select(self, path: str) -> list[SourceDoc]:
        return [self]

    def text(self) -> str:
        return self.message.narrow(self.raw, 1, 0, 0)


class TextLine:
    """One line of an item's text (`lines = true`): `text()` is the line, `line` its
    number in the item (from 1); any other path reads the item it came from."""

    __slots__ = ("line", "of", "value")

    def __init__(self, of: SourceDoc, value: str, line: int) -> None:
        self.of, self.value, self.line = of, value, line

    def get(self, path: str) -> str:
        return self.value if path == "." else self.of.get(path)

    def select(self, path: str) -> list[SourceDoc]:
        return self.of.select(path)

    def text(self) -> str:
        return self.value


def lines_of(items: list[SourceDoc]) -> list[SourceDoc]:
    """Each item's text split into lines, in order; an item without text gives none."""
    found: list[SourceDoc] = []
    for item in items:
        text = item.text()
        if text:
            found.extend(TextLine(item, line, n) for n, line in enumerate(text.split("\n"), 1))
    return found


class TextParts:
    """A piece of an item's text split in MedCom's EDIFACT way (`split = "medcom-text"`):
    up to five lines for one FTX segment, `1` … `5`; other paths read the item."""

    __slots__ = ("of", "parts")

    def __init__(self, of: SourceDoc, parts: list[str]) -> None:
        self.of, self.parts = of, parts

    def get(self, path: str) -> str:
        if path.isdigit():
            n = int(path)
            return self.parts[n - 1] if 0 < n <= len(self.parts) else ""
        return self.of.get(path)

    def select(self, path: str) -> list[SourceDoc]:
        return self.of.select(path)

    def text(self) -> str:
        return "\n".join(self.parts)


def medcom_text_of(items: list[SourceDoc]) -> list[SourceDoc]:
    """Each item's text as FTX-sized pieces, in order (see engine.mapping.edifact_filters)."""
    return [
        TextParts(item, parts)
        for item in items
        for parts in edifact_text_segments(_formatted_text(item))
    ]


def _formatted_text(item: SourceDoc) -> str:
    """MedCom formatted text as EDIFACT carries it: an OIOXML element's leading and
    trailing `<Break/>`s are lines of the text (FTX "." lines), so only the spaces of the
    XML's own layout are trimmed, not the breaks (`text()` trims both)."""
    if type(item) is XmlDoc and len(item.node):
        return _inner_text(item.node).strip(" \t\r")
    return item.text()


class XmlDoc:
    __slots__ = ("namespaces", "node")

    def __init__(self, node: etree._Element, namespaces: dict[str, str]) -> None:
        self.node, self.namespaces = node, namespaces

    def get(self, path: str) -> str:
        found = _xpath(path, tuple(self.namespaces.items()))(self.node)
        if isinstance(found, list):
            return _xml_text(found[0]) if found else ""
        if isinstance(found, bool):
            return "true" if found else "false"
        if isinstance(found, float) and found.is_integer():
            return str(int(found))
        return str(found)

    def select(self, path: str) -> list[SourceDoc]:
        found = _xpath(path, tuple(self.namespaces.items()))(self.node)
        if not isinstance(found, list):
            raise ValueError(f"{path!r} selects a value, not nodes")
        return [XmlDoc(n, self.namespaces) for n in found if isinstance(n, etree._Element)]

    def text(self) -> str:
        return _xml_text(self.node)


@functools.lru_cache(maxsize=2048)
def _xpath(path: str, namespaces: tuple[tuple[str, str], ...]) -> etree.XPath:
    try:
        return etree.XPath(path, namespaces=dict(namespaces))
    except etree.XPathSyntaxError as exc:
        raise ValueError(f"{path!r} is not XPath: {exc}") from None


def _xml_text(node: Any) -> str:
    """An element's text, trimmed; MedCom's `<Break/>` (and `<br/>`) as newlines and
    `<Space/>` as a space, inline markup (`<Bold>`) as its text. Else the value."""
    if not isinstance(node, etree._Element):
        return str(node)
    if not len(node):
        return _unwrapped(node.text).strip()
    return _inner_text(node).strip()


def _unwrapped(text: str | None) -> str:
    # Only <Break/> breaks a line in MedCom's formatted text; a newline written into the
    # XML (wrapping, indentation) is whitespace like any other.
    return _WRAPPED.sub(" ", text) if text and "\n" in text else (text or "")


def _inner_text(node: etree._Element) -> str:
    parts = [_unwrapped(node.text)]
    for child in node:
        name = etree.QName(child).localname
        if name in _BREAKS:
            parts.append("\n")
        elif name in _SPACES:
            parts.append(" ")
        elif isinstance(child.tag, str):
            parts.append(_inner_text(child))
        parts.append(_unwrapped(child.tail))
    return "".join(parts)


class EdifactDoc(XmlDoc):
    """An interchange's tree: values are data, so spaces at their ends are kept."""

    __slots__ = ()

    def get(self, path: str) -> str:
        found = _xpath(path, ())(self.node)
        if isinstance(found, list):
            return _string(found[0]) if found else ""
        return XmlDoc.get(self, path)  # a number or a truth value

    def select(self, path: str) -> list[SourceDoc]:
        found = _xpath(path, ())(self.node)
        if not isinstance(found, list):
            raise ValueError(f"{path!r} selects a value, not segments or elements")
        return [EdifactDoc(n, {}) for n in found if isinstance(n, etree._Element)]

    def text(self) -> str:
        return _string(self.node)


def _string(node: Any) -> str:
    return "".join(node.itertext()) if isinstance(node, etree._Element) else str(node)


class FhirDoc:
    """A FHIR resource, or a part of one; `root` is the whole message (for `resolve()`)."""

    __slots__ = ("node", "root")

    def __init__(self, node: Any, root: Any = None) -> None:
        self.node = node
        self.root = node if root is None else root

    def get(self, path: str) -> str:
        found = compile_fhirpath(path)(self.node, self.root)
        return _fhir_text(found[0]) if found else ""

    def select(self, path: str) -> list[SourceDoc]:
        return [FhirDoc(item, self.root) for item in compile_fhirpath(path)(self.node, self.root)]

    def text(self) -> str:
        return _fhir_text(self.node)


def _fhir_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)) or value is None:
        return ""
    return str(value)


def document(message: Any, fmt: str, namespaces: dict[str, str]) -> SourceDoc:
    """The whole parsed message as a document for rules."""
    if fmt == "hl7v2":
        return Hl7Doc(message)
    if fmt == "xml":
        if "*" in namespaces.values():
            own = etree.QName(message).namespace or ""
            namespaces = {p: own if uri == "*" else uri for p, uri in namespaces.items()}
        return XmlDoc(message, namespaces)
    if fmt == "edifact":
        return EdifactDoc(to_tree(message), {})
    if fmt == "fhir":
        return FhirDoc(message)
    raise ValueError(f"no rules source for {fmt} messages")
