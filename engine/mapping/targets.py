"""Targets are built as structures and serialised once: no string-gluing of JSON or HL7.

JSON paths are dotted with list indexes: `entry[0].resource.identifier[1].value`.
HL7 v2 paths are the usual ones: `PID-5.1`, `PID-3[2].4`, `OBX[2]-5`.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from engine.formats.hl7v2 import parse_path  # the same addressing as the parser
from engine.mapping.hl7_edit import hl7_lines

_JSON_STEP = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")


class JsonTarget:
    def __init__(self) -> None:
        self.root: dict[str, Any] = {}

    def set(self, path: str, value: Any) -> None:
        steps = _json_steps(path)
        node: Any = self.root
        for position, step in enumerate(steps):
            last = position == len(steps) - 1
            following: Any = None if last else ([] if isinstance(steps[position + 1], int) else {})
            node = _json_child(node, step, following, value if last else None, path)

    def serialise(self) -> str:
        # Compact: json's C encoder only runs without indent (several times faster).
        return json.dumps(self.root, ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=4096)  # a mapping has few target paths: parse each once
def _json_steps(path: str) -> tuple[str | int, ...]:
    steps: list[str | int] = []
    for part in path.split("."):
        match = _JSON_STEP.fullmatch(part)
        if match is None:
            raise ValueError(f"not a JSON target path: {path!r}")
        steps.append(match.group(1))
        steps.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return tuple(steps)


def _json_child(node: Any, step: str | int, following: Any, value: Any, path: str) -> Any:
    if isinstance(step, int):
        if not isinstance(node, list):
            raise ValueError(f"{path!r}: [{step}] used on an object")
        while len(node) <= step:
            node.append(None)
        if following is None:
            node[step] = value
        elif node[step] is None:
            node[step] = following
        return node[step]
    if not isinstance(node, dict):
        raise ValueError(f"{path!r}: {step!r} used on a list")
    if following is None:
        node[step] = value
    else:
        node.setdefault(step, following)
    return node[step]


Field = list[list[list[str]]]  # repetition → component → subcomponent
Fields = list[Field | str]  # a field stays text until a rule writes into it
STANDARD_MSH = "MSH|^~\\&|"


class Hl7Target:
    """Segments in the order first written; MSH gets the standard encoding characters.

    Started from a copy of the source message, untouched segments and fields stay text;
    only what a rule writes to is taken apart.
    """

    def __init__(self, copy_of: str | None = None) -> None:
        self.segments: list[tuple[str, Fields | str]] = []
        if copy_of is not None:
            if not copy_of.startswith(STANDARD_MSH):
                raise ValueError("a copy needs the standard separators |^~\\& in MSH")
            self.segments = [(line[:3], line) for line in hl7_lines(copy_of)]

    def set(self, path: str, value: Any) -> None:
        name, seg_rep, field, rep, comp, sub = parse_path(path)
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

    def _segment(self, name: str, seg_rep: int) -> Fields:
        if seg_rep == 1 and self.segments and self.segments[0][0] == name:
            positions = [0]  # MSH, the usual first target, without scanning the rest
        else:
            positions = [i for i, (seg, _) in enumerate(self.segments) if seg == name]
        while len(positions) < seg_rep:
            self.segments.append((name, [name]))
            positions.append(len(self.segments) - 1)
        position = positions[seg_rep - 1]
        content = self.segments[position][1]
        if isinstance(content, str):  # first write to a copied segment: split its fields
            fields: Fields = list(content.split("|"))
            self.segments[position] = (name, fields)
            return fields
        return content

    def serialise(self) -> str:
        return "\r".join(_segment_text(n, c) for n, c in self.segments) + "\r"


def _parse_field(text: str) -> Field:
    return [[component.split("&") for component in rep.split("^")] for rep in text.split("~")]


def _field_text(field: Field | str) -> str:
    if isinstance(field, str):
        return field
    return "~".join("^".join("&".join(subs) for subs in comps) for comps in field)


def _segment_text(name: str, content: Fields | str) -> str:
    if isinstance(content, str):
        return content
    text = [_field_text(field) for field in content]
    if name == "MSH":  # [0] and [1] stand for MSH-1 and MSH-2
        return (STANDARD_MSH + "|".join(text[2:])).rstrip("|")
    return "|".join([name, *text[1:]]).rstrip("|")


def _grow(items: list[Any], index: int, kind: type) -> Any:
    while len(items) <= index:
        items.append(kind())
    return items[index]


def _escape(value: str) -> str:
    """HL7 escapes for the standard encoding characters, escape character first."""
    for char, code in (
        ("\\", "\\E\\"),
        ("|", "\\F\\"),
        ("^", "\\S\\"),
        ("&", "\\T\\"),
        ("~", "\\R\\"),
    ):
        value = value.replace(char, code)
    return value
