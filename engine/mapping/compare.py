"""Comparing a mapping's output with the expected output, by what the target format means.

HL7 v2 field by field (line endings and trailing empty fields do not matter), JSON and
FHIR as structures (FHIR expected outputs may be FHIR XML), EDIFACT segment by segment
(line breaks between segments do not matter), XML canonically (namespace
prefixes, attribute order, indentation and the encoding do not matter), anything else as
text. `ignore` names what is not compared: HL7 fields (`MSH-7`), JSON paths
(`entry[*].fullUrl`, `timestamp`) or XML element paths from the root (`Envelope/Sent`).
Each returns the differences a person should read, empty when the outputs agree.
"""

from __future__ import annotations

import difflib
import json
import re
from itertools import zip_longest
from typing import Any

from lxml import etree

from engine.formats.fhir import FHIRError, parse_fhir
from engine.formats.xml.parser import XMLError, hardened_parser, parse_xml
from engine.mapping.hl7_edit import hl7_lines


def differences(target: str, expected: bytes, actual: bytes, ignore: list[str]) -> list[str]:
    if target == "hl7v2":
        return hl7_differences(expected, actual, set(ignore))
    if target in ("json", "fhir"):
        return json_differences(expected, actual, ignore)
    if target == "xml":
        return xml_differences(expected, actual, ignore)
    if target == "edifact":
        return edifact_differences(expected, actual)
    return text_differences(expected, actual)


def edifact_differences(expected: bytes, actual: bytes) -> list[str]:
    """Segment by segment; line breaks between segments are layout, not data."""

    def segments(raw: bytes) -> str:
        text = raw.replace(b"\r", b"").replace(b"\n", b"").decode("latin-1")
        held = text.replace("??", "\x01").replace("?'", "\x02")  # released: not ends
        lines = "'\n".join(held.split("'"))
        return lines.replace("\x02", "?'").replace("\x01", "??")

    wanted, got = segments(expected), segments(actual)
    return [] if got == wanted else text_differences(wanted.encode(), got.encode())


def hl7_differences(expected: bytes, actual: bytes, ignore: set[str]) -> list[str]:
    """'PID-5: expected 'Hansen^Jens', got 'Hansen'', one line per differing field."""
    wanted, got = _segments(expected), _segments(actual)
    found: list[str] = []
    names = [s[0] for s in wanted]
    if names != [s[0] for s in got]:
        found.append(f"segments: expected {names}, got {[s[0] for s in got]}")
    seen: dict[str, int] = {}
    for want, have in zip(wanted, got, strict=False):  # a length mismatch is reported above
        name = want[0]
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}[{seen[name]}]"
        for number, (a, b) in enumerate(zip_longest(want[1:], have[1:], fillvalue=""), 1):
            field = number + 1 if name == "MSH" else number  # MSH-1 is the separator itself
            if a != b and f"{name}-{field}" not in ignore:
                found.append(f"{label}-{field}: expected {a!r}, got {b!r}")
    return found


def _segments(raw: bytes) -> list[list[str]]:
    text = raw.decode("latin-1")
    lines = [line for line in hl7_lines(text) if line.strip()]
    separator = text[3] if text.startswith("MSH") and len(text) > 3 else "|"
    return [_trimmed(line.split(separator)) for line in lines]


def _trimmed(fields: list[str]) -> list[str]:
    while len(fields) > 1 and fields[-1] == "":
        fields.pop()
    return fields


def json_differences(expected: bytes, actual: bytes, ignore: list[str] | None = None) -> list[str]:
    try:
        got = json.loads(actual)
    except json.JSONDecodeError as exc:
        return [f"output is not JSON: {exc}"]
    try:
        wanted = parse_fhir(expected) if expected.lstrip()[:1] == b"<" else json.loads(expected)
    except (FHIRError, json.JSONDecodeError) as exc:
        return [f"expected output cannot be read: {exc}"]
    for path in ignore or []:
        _drop_json(wanted, _json_path(path))
        _drop_json(got, _json_path(path))
    wanted, got = _without_dropped(wanted), _without_dropped(got)
    if got == wanted:
        return []
    return text_differences(
        json.dumps(wanted, indent=2, sort_keys=True, ensure_ascii=False).encode(),
        json.dumps(got, indent=2, sort_keys=True, ensure_ascii=False).encode(),
    )


def _json_path(path: str) -> list[str]:
    """`entry[*].resource.text` → ["entry", "*", "resource", "text"]."""
    return [step for step in re.split(r"[.\[\]]+", path) if step]


def _drop_json(node: Any, steps: list[str]) -> None:
    if not steps:
        return
    head, rest = steps[0], steps[1:]
    if isinstance(node, list):
        items = node if head == "*" else node[int(head) : int(head) + 1] if head.isdigit() else []
        if not rest and head.isdigit() and int(head) < len(node):
            node[int(head)] = _DROPPED  # removed afterwards: later indexes stay valid
            return
        for item in items:
            _drop_json(item, rest)
    elif isinstance(node, dict) and head in node:
        if rest:
            _drop_json(node[head], rest)
        else:
            del node[head]


_DROPPED = object()


def _without_dropped(node: Any) -> Any:
    if isinstance(node, list):
        return [_without_dropped(item) for item in node if item is not _DROPPED]
    if isinstance(node, dict):
        return {key: _without_dropped(value) for key, value in node.items()}
    return node


def xml_differences(expected: bytes, actual: bytes, ignore: list[str]) -> list[str]:
    try:
        got = _canonical(actual, ignore)
    except XMLError as exc:
        return [f"output is not XML: {exc}"]
    try:
        wanted = _canonical(expected, ignore)
    except XMLError as exc:
        return [f"expected output is not XML: {exc}"]
    return [] if got == wanted else text_differences(wanted.encode(), got.encode())


def _canonical(raw: bytes, ignore: list[str]) -> str:
    """Canonical XML with insignificant whitespace gone and ignored elements removed."""
    root = parse_xml(raw)
    for path in ignore:
        steps = "/".join(f"*[local-name()='{step}']" for step in path.strip("/").split("/"))
        for node in root.xpath(steps):
            node.getparent().remove(node)
    for node in root.iter():
        if isinstance(node.tag, str):
            node.text = (node.text or "").strip() or None
            node.tail = (node.tail or "").strip() or None  # mixed content keeps its text
    text = etree.tostring(root, method="c14n2", strip_text=True)
    pretty: bytes = etree.tostring(etree.fromstring(text, hardened_parser()), pretty_print=True)
    return pretty.decode("utf-8")


def text_differences(expected: bytes, actual: bytes) -> list[str]:
    want = expected.decode("utf-8", "replace").splitlines()
    got = actual.decode("utf-8", "replace").splitlines()
    return [line for line in difflib.unified_diff(want, got, "expected", "actual", lineterm="")]
