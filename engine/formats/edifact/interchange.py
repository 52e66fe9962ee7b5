"""Read an interchange: binary objects out, characters decoded, segments parsed, checked."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydifact.segments import Segment

from engine.formats.edifact.charset import decode
from engine.formats.edifact.checks import check_structure
from engine.formats.edifact.errors import EdifactError
from engine.formats.edifact.tokens import tokenize

_C0 = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # never text (binaries are taken out first)
DEFAULT_UNA = b":+.? '"  # component, element, decimal mark, release, reserved, terminator


@dataclass
class EdifactInterchange:
    raw: bytes
    text: str  # decoded, line breaks and binary objects taken out
    codec: str
    segments: list[Segment]  # UNB … UNZ (UNA is not a segment of the interchange)
    binaries: list[bytes] = field(default_factory=list)  # MEDBIN objects, UNO to UNP

    def first(self, tag: str, qualifier: str | None = None) -> Segment | None:
        """The first segment `tag` (whose first element is `qualifier`, if given)."""
        for segment in self.segments:
            if segment.tag == tag and (qualifier is None or segment_text(segment, 0) == qualifier):
                return segment
        return None

    def value(self, segment: Segment | None, element: int, component: int = 0) -> str:
        return segment_text(segment, element, component) if segment is not None else ""


def parse_edifact(raw: bytes) -> EdifactInterchange:
    """Raises EdifactError with a MedCom refusal code and a reason."""
    una = raw[3:9] if raw.lstrip().startswith(b"UNA") else DEFAULT_UNA
    if len(una) < 6:
        raise EdifactError("SYN", "UNA: the service string advice is cut short")
    without_binary, binaries = _take_binaries(raw, una)
    text, codec = decode(without_binary)
    text = text.replace("\r", "").replace("\n", "")  # line breaks are never data
    control = _C0.search(text)
    if control is not None:
        raise EdifactError(
            "SYN", f"control character 0x{ord(control.group()):02X} in the interchange's text"
        )
    body = text.lstrip()
    if body.startswith("UNA"):
        body = body[9:]
    segments = tokenize(body, una.decode("latin-1"))
    check_structure(segments)
    return EdifactInterchange(raw, text, codec, segments, binaries)


def _take_binaries(raw: bytes, una: bytes) -> tuple[bytes, list[bytes]]:
    """MEDBIN: after the UNO segment come exactly as many raw bytes as UNO says (element
    4, component 1), then UNP. They leave the text here and are kept aside."""
    element, component, release, terminator = una[1:2], una[0:1], una[3:4], una[5:6]
    binaries: list[bytes] = []
    pieces: list[bytes] = []
    position = 0
    while (start := _segment_start(raw, b"UNO" + element, position, terminator)) >= 0:
        end = _terminator(raw, start, release, terminator)
        fields = raw[start:end].split(element)
        try:
            size = int(fields[4].split(component)[0])
        except (IndexError, ValueError):
            raise EdifactError("SYN", "UNO: no object size in element 4") from None
        body_start = end + 1
        body_end = body_start + size
        unp = body_end
        while raw[unp : unp + 1] in (b"\r", b"\n"):  # a line break before UNP is layout
            unp += 1
        if not raw.startswith(b"UNP" + element, unp):
            raise EdifactError("SYN", f"UNO: {size} bytes of binary data are not followed by UNP")
        pieces.append(raw[position:body_start])
        binaries.append(raw[body_start:body_end])
        position = unp
    pieces.append(raw[position:])
    return b"".join(pieces), binaries


def _segment_start(raw: bytes, tag: bytes, position: int, terminator: bytes) -> int:
    while (found := raw.find(tag, position)) >= 0:
        before = raw[:found].rstrip(b"\r\n")
        if not before or before.endswith(terminator):
            return found
        position = found + 1
    return -1


def _terminator(raw: bytes, start: int, release: bytes, terminator: bytes) -> int:
    position = start
    while (found := raw.find(terminator, position)) >= 0:
        if raw[found - 1 : found] != release:
            return found
        position = found + 1
    raise EdifactError("SYN", "UNO: the segment has no terminator")


def segment_text(segment: Segment, element: int, component: int = 0) -> str:
    """Element `element` (from 0), component `component` of a segment; "" when absent."""
    elements: list[Any] = segment.elements
    if element >= len(elements):
        return ""
    value = elements[element]
    if isinstance(value, list):
        return str(value[component]) if component < len(value) else ""
    return str(value) if component == 0 else ""
