"""Paths and values: parsing HL7 paths, narrowing a field, decoding escape sequences."""

from __future__ import annotations

import re

from engine.formats.hl7v2.separators import Separators

_PATH = re.compile(r"([A-Z0-9]{3})(?:\[(\d+)\])?-(\d+)(?:\[(\d+)\])?(?:\.(\d+))?(?:\.(\d+))?")
_PATHS: dict[str, tuple[str, int, int, int, int, int]] = {}


def parse_path(path: str) -> tuple[str, int, int, int, int, int]:
    """("PID", seg_rep, field, rep, comp, sub); parsed paths are cached (a channel uses few)."""
    parsed = _PATHS.get(path)
    if parsed is None:
        m = _PATH.fullmatch(path.strip())
        if m is None:
            raise ValueError(f"not an HL7 path: {path!r} (expected e.g. 'PID-3[2].1')")
        seg, *numbers = m.groups()
        if any(n is not None and int(n) == 0 for n in numbers):
            raise ValueError(f"HL7 paths count from 1: {path!r}")
        seg_rep, field, rep, comp, sub = (int(n or 0) for n in numbers)
        parsed = (seg, seg_rep or 1, field, rep, comp, sub)
        if len(_PATHS) < 10_000:  # bounded: paths may come from user input
            _PATHS[path] = parsed
    return parsed


def _narrow(value: str, seps: Separators, rep: int, comp: int, sub: int) -> str:
    """One repetition/component/subcomponent of a raw field (0 = keep all of that level)."""
    _, cs, rs, _, ss = seps
    if rs and rs in value:
        value = _nth(value, rs, rep or 1)  # a component path means the first repetition
    elif rep > 1:
        return ""
    if comp:
        if cs in value:
            value = _nth(value, cs, comp)
        elif comp > 1:
            return ""
        if sub:
            if ss and ss in value:
                value = _nth(value, ss, sub)
            elif sub > 1:
                return ""
    return value


def _nth(value: str, sep: str, n: int) -> str:
    parts = value.split(sep, n)
    return parts[n - 1] if n <= len(parts) else ""


def _unescape(value: str, seps: Separators, codec: str) -> str:
    es = seps.escape
    if not es or es not in value:
        return value
    out: list[str] = []
    i = 0
    while True:
        start = value.find(es, i)
        end = value.find(es, start + 1) if start >= 0 else -1
        if end < 0:
            out.append(value[i:])
            return "".join(out)
        out.append(value[i:start])
        decoded = _escape_sequence(value[start + 1 : end], seps, codec)
        out.append(value[start : end + 1] if decoded is None else decoded)
        i = end + 1


def _escape_sequence(code: str, seps: Separators, codec: str) -> str | None:
    """The text for one escape sequence, or None to leave it as it is."""
    simple = {"F": seps.field, "S": seps.component, "T": seps.subcomponent}
    simple.update(R=seps.repetition, E=seps.escape)
    if code in simple:
        return simple[code] or None
    if code[:1] == "X" and len(code) > 1:
        try:
            data = bytes.fromhex(code[1:])
        except ValueError:
            return None
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            return data.decode("latin-1")
    return None
