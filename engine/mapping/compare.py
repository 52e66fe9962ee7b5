"""Comparing a mapping's output with the expected output, by what the target format means.

HL7 v2 field by field (line endings and trailing empty fields do not matter), JSON as
structures, anything else as text. Each returns the differences a person should read,
empty when the outputs agree.
"""

from __future__ import annotations

import difflib
import json
from itertools import zip_longest

from engine.mapping.hl7_edit import hl7_lines


def differences(target: str, expected: bytes, actual: bytes, ignore: list[str]) -> list[str]:
    if target == "hl7v2":
        return hl7_differences(expected, actual, set(ignore))
    if target == "json":
        return json_differences(expected, actual)
    return text_differences(expected, actual)


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


def json_differences(expected: bytes, actual: bytes) -> list[str]:
    try:
        got = json.loads(actual)
    except json.JSONDecodeError as exc:
        return [f"output is not JSON: {exc}"]
    wanted = json.loads(expected)
    return (
        []
        if got == wanted
        else text_differences(
            json.dumps(wanted, indent=2, sort_keys=True).encode(),
            json.dumps(got, indent=2, sort_keys=True).encode(),
        )
    )


def text_differences(expected: bytes, actual: bytes) -> list[str]:
    want = expected.decode("utf-8", "replace").splitlines()
    got = actual.decode("utf-8", "replace").splitlines()
    return [line for line in difflib.unified_diff(want, got, "expected", "actual", lineterm="")]
