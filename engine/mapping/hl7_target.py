"""HL7 v2 targets, built as segments and fields and serialised once, values escaped.

Paths are the usual ones: `PID-5.1`, `PID-3[2].4`, `OBX[2]-5`; `PID-13[+].1` starts a
new repetition of a field and `PID-13[=].2` writes into the last one. A sub-mapping's `to`
names a segment, `OBX[+]` (a new one), `OBX[=]` (the last) or `OBX[2]`; inside it,
`OBX-5` means that segment.
"""

from __future__ import annotations

import re
from typing import Any

from engine.formats.hl7v2 import parse_path  # the same addressing as the parser
from engine.mapping.hl7_edit import hl7_lines

_SEGMENT_STEP = re.compile(r"^([A-Z][A-Z0-9]{2})(?:\[(\d+|\+|=)\])?$")


Field = list[list[list[str]]]  # repetition → component → subcomponent
Fields = list[Field | str]  # a field stays text until a rule writes into it
STANDARD_MSH = "MSH|^~\\&|"


class Hl7Target:
    """Segments in the order first written; MSH gets the standard encoding characters.

    Started from a copy of the source message, untouched segments and fields stay text;
    only what a rule writes to is taken apart.
    """

    def __init__(self, copy_of: str | list[str] | None = None) -> None:
        """`copy_of`: the message's text, or its segments already split."""
        # Each segment is its text until a rule writes to it, then its fields ([0]: name).
        self.segments: list[Fields | str] = []
        self._by_name: dict[str, list[int]] | None = None
        if copy_of is not None:
            lines = hl7_lines(copy_of) if isinstance(copy_of, str) else copy_of
            if not lines or not lines[0].startswith(STANDARD_MSH):
                raise ValueError("a copy needs the standard separators |^~\\& in MSH")
            self.segments = list(lines)

    def set(self, path: str, value: Any) -> None:
        self.set_at(path, self._parse(path), value)

    def _parse(self, path: str) -> tuple[str, int, int, int, int, int]:
        """parse_path, plus `PID-13[+].1` (a new repetition) and `PID-13[=].2` (the last)."""
        if "[+]" not in path and "[=]" not in path:
            return parse_path(path)
        marker = "[+]" if "[+]" in path else "[=]"
        name, seg_rep, field, _, comp, sub = parse_path(path.replace(marker, "[1]"))
        fields = self._segment(name, seg_rep)
        index = field - 1 if name == "MSH" else field
        current = fields[index] if index < len(fields) else ""
        count = (
            len(current)
            if not isinstance(current, str)
            else (current.count("~") + 1 if current else 0)
        )
        rep = count + 1 if marker == "[+]" or count == 0 else count
        return name, seg_rep, field, rep, comp, sub

    def child(self, path: str) -> Hl7SegmentTarget:
        match = _SEGMENT_STEP.match(path)
        if match is None:
            raise ValueError(f"{path!r}: a sub-mapping into HL7 needs a segment: OBX[+]")
        name, index = match.group(1), match.group(2) or "1"
        count = len(self._positions(name))
        if index == "+" or (index == "=" and count == 0):
            repetition = count + 1
        else:
            repetition = count if index == "=" else int(index)
        self._segment(name, repetition)
        return Hl7SegmentTarget(self, name, repetition)

    def set_at(self, path: str, parsed: tuple[str, int, int, int, int, int], value: Any) -> None:
        name, seg_rep, field, rep, comp, sub = parsed
        if field == 0 or (name == "MSH" and field <= 2):
            raise ValueError(f"{path!r}: name a field after the separators")
        fields = self._segment(name, seg_rep)
        index = field - 1 if name == "MSH" else field  # MSH-1 is the separator itself
        _grow(fields, index, str)
        text = _escape("" if value is None else str(value))
        if not (rep or comp or sub):  # a whole field: no need to take it apart
            fields[index] = text
            return
        current = fields[index]
        reps: Field = _parse_field(current) if isinstance(current, str) else current
        fields[index] = reps
        comps = _grow(reps, max(rep, 1) - 1, list)
        subs = _grow(comps, max(comp, 1) - 1, list)
        _grow(subs, max(sub, 1) - 1, str)
        subs[max(sub, 1) - 1] = text

    def _positions(self, name: str) -> list[int]:
        """Where the segments called `name` are (kept up to date: segments are only ever
        appended, so a message of many NTEs is not scanned once per NTE)."""
        if self._by_name is None:
            self._by_name = {}
            for position, segment in enumerate(self.segments):
                self._by_name.setdefault(_name(segment), []).append(position)
        return list(self._by_name.get(name, ()))

    def _segment(self, name: str, seg_rep: int) -> Fields:
        segments = self.segments
        if seg_rep == 1 and segments and _name(segments[0]) == name:
            positions = [0]  # MSH, the usual first target, without scanning the rest
        else:
            positions = self._positions(name)
        while len(positions) < seg_rep:
            segments.append([name])
            positions.append(len(segments) - 1)
            if self._by_name is not None:
                self._by_name.setdefault(name, []).append(len(segments) - 1)
        position = positions[seg_rep - 1]
        content = segments[position]
        if isinstance(content, str):  # first write to a copied segment: split its fields
            fields: Fields = list(content.split("|"))
            segments[position] = fields
            return fields
        return content

    def header_problems(self) -> list[str]:
        """What makes the message unreadable to a receiver: no MSH first, no MSH-9/10/12."""
        if not self.segments or _name(self.segments[0]) != "MSH":
            return ["the first segment is not MSH"]
        names = {_name(segment) for segment in self.segments}
        odd = sorted(n for n in names if not _SEGMENT_NAME.match(n))
        if odd:
            return [f"not segment names: {odd}"]
        content = self.segments[0]
        fields = content.split("|") if isinstance(content, str) else content
        # Index n-1 holds MSH-n: MSH-1, the separator itself, has no place of its own.
        return [
            f"MSH-{n} is empty"
            for n in (9, 10, 12)
            if len(fields) < n or not _field_text(fields[n - 1]).strip("^~&")
        ]

    def serialise(self) -> str:
        texts = [c if isinstance(c, str) else _segment_text(c) for c in self.segments]
        return "\r".join(texts) + "\r"


class Hl7SegmentTarget:
    """One segment of an HL7 target, for a sub-mapping: `OBX-5` means this OBX."""

    def __init__(self, parent: Hl7Target, name: str, repetition: int) -> None:
        self.parent, self.name, self.repetition = parent, name, repetition

    def set(self, path: str, value: Any) -> None:
        name, seg_rep, field, rep, comp, sub = self.parent._parse(path)
        if name == self.name and seg_rep == 1:
            seg_rep = self.repetition
        self.parent.set_at(path, (name, seg_rep, field, rep, comp, sub), value)

    def child(self, path: str) -> Hl7SegmentTarget:
        return self.parent.child(path)

    def close(self) -> None:
        """A segment a sub-mapping left empty stays: HL7 allows empty segments."""


def _parse_field(text: str) -> Field:
    return [[component.split("&") for component in rep.split("^")] for rep in text.split("~")]


def _field_text(field: Field | str) -> str:
    if isinstance(field, str):
        return field
    return "~".join("^".join("&".join(subs) for subs in comps) for comps in field)


def _name(segment: Fields | str) -> str:
    return segment[:3] if isinstance(segment, str) else str(segment[0])


def _segment_text(content: Fields) -> str:
    name = str(content[0])
    text = [field if isinstance(field, str) else _field_text(field) for field in content]
    if name == "MSH":  # [0] and [1] stand for MSH-1 and MSH-2
        return (STANDARD_MSH + "|".join(text[2:])).rstrip("|")
    return "|".join([name, *text[1:]]).rstrip("|")


def _grow(items: list[Any], index: int, kind: type) -> Any:
    while len(items) <= index:
        items.append(kind())
    return items[index]


_SPECIAL = re.compile(r"[\\|^&~\r\n]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SEGMENT_NAME = re.compile(r"^[A-Z][A-Z0-9]{2}$")


def _escape(value: str) -> str:
    """HL7 escapes for the standard encoding characters, escape character first, and
    `\\.br\\` for a line break (a raw one would start a new segment)."""
    if _SPECIAL.search(value) is None:  # the common case: nothing to escape
        return value
    for char, code in (
        ("\\", "\\E\\"),
        ("|", "\\F\\"),
        ("^", "\\S\\"),
        ("&", "\\T\\"),
        ("~", "\\R\\"),
    ):
        value = value.replace(char, code)
    return _LINE_BREAK.sub(r"\\.br\\", value)
