"""Targets are built as structures and serialised once: no string-gluing of JSON or HL7.

JSON paths are dotted with list indexes: `entry[0].resource.identifier[1].value`.
HL7 v2 paths are the usual ones: `PID-5.1`, `PID-3[2].4`, `OBX[2]-5`.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from engine.formats.hl7v2.values import _parse_path  # the same addressing as the parser

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

    def serialise(self) -> bytes:
        # Compact: json's C encoder only runs without indent (several times faster).
        return json.dumps(self.root, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


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


class Hl7Target:
    """Segments in the order first written; MSH gets the standard encoding characters."""

    def __init__(self) -> None:
        self.segments: list[tuple[str, list[list[list[list[str]]]]]] = []

    def set(self, path: str, value: Any) -> None:
        name, seg_rep, field, rep, comp, sub = _parse_path(path)
        if field == 0 or (name == "MSH" and field <= 2):
            raise ValueError(f"{path!r}: name a field after the separators")
        fields = self._segment(name, seg_rep)
        index = field - 1 if name == "MSH" else field  # MSH-1 is the separator itself
        reps = _grow(fields, index, list)
        comps = _grow(reps, max(rep, 1) - 1, list)
        subs = _grow(comps, max(comp, 1) - 1, list)
        _grow(subs, max(sub, 1) - 1, str)
        subs[max(sub, 1) - 1] = _escape("" if value is None else str(value))

    def _segment(self, name: str, seg_rep: int) -> list[list[list[list[str]]]]:
        matching = [fields for seg, fields in self.segments if seg == name]
        while len(matching) < seg_rep:
            self.segments.append((name, []))
            matching.append(self.segments[-1][1])
        return matching[seg_rep - 1]

    def serialise(self) -> bytes:
        lines = []
        for name, fields in self.segments:
            text = [
                "~".join("^".join("&".join(subs) for subs in comps) for comps in reps)
                for reps in fields
            ]
            if name == "MSH":
                text = text[2:]  # [0] and [1] stand for MSH-1 and MSH-2
                lines.append("MSH|^~\\&|" + "|".join(text))
            else:
                lines.append("|".join([name, *text[1:]]))
        return ("\r".join(line.rstrip("|") for line in lines) + "\r").encode("utf-8")


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
