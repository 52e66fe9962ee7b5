"""The envelope must hold together: UNB … UNH … UNT … UNZ, with counts and references
that agree. Each problem is refused with SYN and a reason naming the segment."""

from __future__ import annotations

from pydifact.segments import Segment

from engine.formats.edifact.errors import EdifactError

ENVELOPE = {"UNB", "UNZ", "UNG", "UNE"}
# ISO 9735 numbers a segment's data elements, and a composite's components, in positions
# 010 … 990: no segment has more than 99 of either. A longer one is garbage, and refusing
# it at once keeps one such segment from costing seconds further on (mappings, receipts).
MAX_POSITIONS = 99


def check_structure(segments: list[Segment]) -> None:
    if not segments:
        raise EdifactError("SYN", "empty interchange: no segments")
    for segment in segments:
        _check_positions(segment)
    if segments[0].tag != "UNB":
        raise EdifactError("SYN", f"the interchange starts with {segments[0].tag}, not UNB")
    unb = segments[0]
    reference = _element(unb, 4)
    if not reference:
        raise EdifactError("SYN", "UNB: the interchange control reference (element 5) is missing")
    for element, what in ((1, "sender"), (2, "recipient")):
        if not _element(unb, element):
            raise EdifactError("SYN", f"UNB: the {what} identification is missing")
    unz_at = next((i for i, s in enumerate(segments) if s.tag == "UNZ"), -1)
    if unz_at < 0:
        raise EdifactError("SYN", "the interchange has no UNZ")
    if unz_at != len(segments) - 1:
        raise EdifactError(
            "SYN", f"segments after UNZ: {segments[unz_at + 1].tag} (a second interchange?)"
        )
    messages = _check_messages(segments[1:unz_at])
    unz = segments[unz_at]
    if _element(unz, 1) != reference:
        raise EdifactError(
            "SYN", f"UNZ reference {_element(unz, 1)!r} does not match UNB reference {reference!r}"
        )
    if _element(unz, 0) != str(messages):
        raise EdifactError(
            "SYN", f"UNZ counts {_element(unz, 0)} message(s), the interchange holds {messages}"
        )


def _check_positions(segment: Segment) -> None:
    if len(segment.elements) > MAX_POSITIONS:
        raise EdifactError(
            "SYN",
            f"{segment.tag}: {len(segment.elements)} data elements, more than the "
            f"{MAX_POSITIONS} a segment can have",
        )
    for number, element in enumerate(segment.elements, 1):
        if isinstance(element, list) and len(element) > MAX_POSITIONS:
            raise EdifactError(
                "SYN",
                f"{segment.tag}: element {number} has {len(element)} components, more than "
                f"the {MAX_POSITIONS} an element can have",
            )


def _check_messages(body: list[Segment]) -> int:
    count = 0
    unh: Segment | None = None
    start = 0
    for position, segment in enumerate(body):
        tag = segment.tag
        if tag in ENVELOPE:
            raise EdifactError("SYN", f"{tag} inside the interchange (only UNB ... UNZ around it)")
        if tag == "UNH":
            if unh is not None:
                raise EdifactError(
                    "SYN", f"UNH {_element(unh, 0)!r} has no UNT before the next UNH"
                )
            if not _element(segment, 0) or not _element(segment, 1):
                raise EdifactError("SYN", "UNH: the message reference or type is missing")
            unh, start = segment, position
        elif unh is None:
            raise EdifactError("SYN", f"{tag} outside a message: no UNH before it")
        elif tag == "UNT":
            size = position - start + 1
            if _element(segment, 0) != str(size):
                raise EdifactError(
                    "SYN", f"UNT counts {_element(segment, 0)} segments, the message has {size}"
                )
            if _element(segment, 1) != _element(unh, 0):
                raise EdifactError(
                    "SYN",
                    f"UNT reference {_element(segment, 1)!r} does not match "
                    f"UNH reference {_element(unh, 0)!r}",
                )
            unh = None
            count += 1
    if unh is not None:
        raise EdifactError("SYN", f"UNH {_element(unh, 0)!r} has no UNT")
    if count == 0:
        raise EdifactError("SYN", "the interchange holds no message (UNH ... UNT)")
    return count


def _element(segment: Segment, index: int) -> str:
    elements = segment.elements
    if index >= len(elements):
        return ""
    value = elements[index]
    return str(value[0] if isinstance(value, list) and value else value)
