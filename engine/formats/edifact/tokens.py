"""Segments, elements and components of an interchange's text, split by the UNA characters.

pydifact's tokenizer reads one character at a time (about 1.8 ms for a MedCom letter,
97% of reading it: bench/medcom_throughput.py); plain string splits do the same in C. The
result is pydifact's own Segment model, as its parser gives it: an element with one
component is a string, one with several a list. The only refusal is a segment tag that is
not three capital letters or digits (pydifact's Segment and the XML tree need one);
anything else the split cannot make sense of is left to the structure checks.
"""

from __future__ import annotations

import re
import warnings

from pydifact.segments import Segment

from engine.formats.edifact.errors import EdifactError

Elements = list[str | list[str]]
# Released (escaped) characters wait as C0 control codes, which a checked interchange
# cannot contain (parse_edifact refuses them before the split), until the split is done.
_HELD = "\x01\x02\x03\x04"
_TAG = re.compile(r"[A-Z][A-Z0-9]{2}")  # an XML element name too (tree.py): no digit first


def tokenize(text: str, una: str) -> list[Segment]:
    """`text` without UNA and without line breaks; `una` its six service characters."""
    with warnings.catch_warnings():  # pydifact warns of empty segments: the checks say more
        warnings.simplefilter("ignore")
        segments = split_segments(text, una)
        for position, (tag, _) in enumerate(segments, 1):
            if not _TAG.fullmatch(tag):  # the tag itself is not quoted: it may be any text
                reason = f"segment {position}: the tag is not three capital letters or digits"
                raise EdifactError("SYN", reason)
        return [Segment(tag, *elements) for tag, elements in segments]


def split_segments(text: str, una: str) -> list[tuple[str, Elements]]:
    component, element, release, terminator = una[0], una[1], una[3], una[5]
    specials = (release, element, component, terminator)
    held = release in text
    if held:
        for special, code in zip(specials, _HELD, strict=True):
            text = text.replace(release + special, code)
    segments: list[tuple[str, Elements]] = []
    for raw in text.split(terminator):
        if not raw.strip():
            continue
        tag, *values = raw.split(element)
        restore = held and any(code in raw for code in _HELD)
        elements: Elements = []
        for value in values:
            parts = value.split(component)
            if restore:
                parts = [_restore(p, specials) for p in parts]
            elements.append(parts[0] if len(parts) == 1 else parts)
        segments.append((tag.strip(), elements))
    return segments


def _restore(value: str, specials: tuple[str, ...]) -> str:
    for special, code in zip(specials, _HELD, strict=True):
        if code in value:
            value = value.replace(code, special)
    return value
