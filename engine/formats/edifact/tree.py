"""An EDIFACT interchange as an XML tree, and back: how mappings read and write EDIFACT.

Like MedCom's own converter, a letter is read into a generic tree that XPath can address
and written back from one. The tree:

    <Interchange>
      <UNB><e1><c1>UNOC</c1><c2>3</c2></e1> … </UNB>
      <Message>
        <UNH>…</UNH> <BGM>…</BGM> …
        <S01> <NAD>…</NAD> <SEQ>…</SEQ> </S01>     a group: its segments (no Snn segment)
        <UNO>… <binary>base64</binary></UNO>       a MEDBIN object follows its UNO
        <UNT>…</UNT>
      </Message>
      <UNZ>…</UNZ>
    </Interchange>

Every data element is `eN` (from 1), every component `cN` inside it, values unescaped;
an element's text is its components run together, so `GIS/e1` reads a simple element
and `NAD/e2/c1` a component. Writing back, `eN` may hold its text directly, missing
positions are empty and trailing empty ones are left off.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

from lxml import etree

from engine.formats.edifact.charset import CODECS
from engine.formats.edifact.groups import BODY, MARKER, message_groups
from engine.formats.edifact.interchange import EdifactInterchange, segment_text

INTERCHANGE = "Interchange"
_POSITION = re.compile(r"^[ec](\d+)$")
UNA = "UNA:+.? '"
_SPECIAL = re.compile(r"([?+:'])")


def to_tree(interchange: EdifactInterchange) -> etree._Element:
    root = etree.Element(INTERCHANGE)
    binaries = iter(interchange.binaries)
    groups: _Grouper | None = None
    for segment in interchange.segments:
        tag = segment.tag
        if tag == "UNH":
            message = etree.SubElement(root, "Message")
            groups = _Grouper(message, segment_text(segment, 1, 0))
        if groups is None or tag in ("UNB", "UNZ"):
            root.append(_segment(tag, segment.elements))
            continue
        if MARKER.match(tag):
            groups.open_marked(tag)
            continue
        node = _segment(tag, segment.elements)
        if tag == "UNO":
            binary = next(binaries, b"")
            etree.SubElement(node, "binary").text = base64.b64encode(binary).decode()
        groups.add(node, tag)
        if tag == "UNT":
            groups = None
    return root


def from_tree(root: etree._Element) -> bytes:
    """The interchange as bytes in UNB's character set: UNA first, a line per segment."""
    codec = CODECS.get(_value(root, "UNB/e1/c1") or _value(root, "UNB/e1"), "")
    out: list[bytes] = [UNA.encode() + b"\r\n"]
    encode = codec or "iso-8859-1"
    for tag, values, binary in _segments(root, message=""):
        if binary is None:
            out.append(_write(tag, values).encode(encode) + b"'\r\n")
        else:  # the object's bytes follow UNO's terminator at once: a line break would be data
            out.append(_write(tag, values).encode(encode) + b"'" + binary)
    return b"".join(out)


def with_counts(root: etree._Element) -> etree._Element:
    """The tree with the counts and references EDIFACT repeats filled in where missing:
    UNT (segments in the message, its reference) and UNZ (messages, the envelope's id)."""
    messages = root.findall("Message")
    for message in messages:
        unt = message.find("UNT")
        if unt is None:
            unt = etree.SubElement(message, "UNT")
        count = sum(1 for _ in _segments(message, _message_name(message)))
        _fill(unt, "e1", str(count))
        _fill(unt, "e2", _value(message, "UNH/e1"))
    unz = root.find("UNZ")
    if unz is None:
        unz = etree.SubElement(root, "UNZ")
    _fill(unz, "e1", str(len(messages)))
    _fill(unz, "e2", _value(root, "UNB/e5"))
    return root


def _value(node: etree._Element, path: str) -> str:
    found = node.find(path)
    return "".join(found.itertext()) if found is not None else ""


def _fill(segment: etree._Element, element: str, value: str) -> None:
    node = segment.find(element)
    if node is None:
        node = etree.SubElement(segment, element)
    if not "".join(node.itertext()):
        node.text = value


class _Grouper:
    """Puts a message's segments into groups as they come: marked groups open at their
    Snn segment, unmarked ones at the segment tags the group table names."""

    def __init__(self, message: etree._Element, name: str) -> None:
        self.rules = message_groups(name)
        self.stack: list[tuple[str, etree._Element]] = [(BODY, message)]

    def open_marked(self, group: str) -> None:
        self._open(group)

    def add(self, node: etree._Element, tag: str) -> None:
        if tag == "UNT":
            del self.stack[1:]
        else:
            opened = self.rules.rule(self.stack[-1][0]).starts.get(tag)
            if opened is not None:
                self._open(opened)
        self.stack[-1][1].append(node)

    def _open(self, group: str) -> None:
        while len(self.stack) > 1 and group not in self.rules.rule(self.stack[-1][0]).children:
            self.stack.pop()
        parent = self.stack[-1][1]
        self.stack.append((group, etree.SubElement(parent, group)))


def _segment(tag: str, elements: list[Any]) -> etree._Element:
    node = etree.Element(tag)
    for n, value in enumerate(elements, 1):
        element = etree.SubElement(node, f"e{n}")
        for m, component in enumerate(value if isinstance(value, list) else [value], 1):
            etree.SubElement(element, f"c{m}").text = component or None
    return node


def _segments(
    node: etree._Element, message: str
) -> Iterator[tuple[str, list[list[str]], bytes | None]]:
    """(tag, element values, binary object) for every segment under `node`, in order."""
    for child in node:
        if not isinstance(child.tag, str):
            continue
        tag = child.tag
        if tag == "Message":
            yield from _segments(child, _message_name(child))
        elif MARKER.match(tag):
            if tag not in message_groups(message).unmarked:
                yield tag, [[tag[1:]]], None
            yield from _segments(child, message)
        else:
            binary = child.findtext("binary")
            yield tag, _values(child), None if binary is None else base64.b64decode(binary)


def _message_name(message: etree._Element) -> str:
    return _value(message, "UNH/e2/c1") or _value(message, "UNH/e2")


def _values(segment: etree._Element) -> list[list[str]]:
    elements: dict[int, list[str]] = {}
    for element in segment:
        position = _position(element)
        if position is None:
            continue
        components: dict[int, str] = {}
        for component in element:
            n = _position(component)
            if n is not None:
                components[n] = component.text or ""
        if not components:
            components[1] = element.text or ""
        elements[position] = [components.get(n, "") for n in range(1, max(components) + 1)]
    return [elements.get(n, [""]) for n in range(1, max(elements, default=0) + 1)]


def _position(node: Any) -> int | None:
    if not isinstance(node.tag, str):
        return None
    found = _POSITION.match(node.tag)
    return int(found.group(1)) if found else None


def _write(tag: str, values: list[list[str]]) -> str:
    elements = [":".join(_SPECIAL.sub(r"?\1", c) for c in _trimmed(v)) for v in values]
    return "+".join([tag, *_trimmed(elements)]) if elements else tag


def _trimmed(values: list[str]) -> list[str]:
    end = len(values)
    while end and not values[end - 1]:
        end -= 1
    return values[:end]
