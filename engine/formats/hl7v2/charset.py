"""Character sets: decoding a message by the MSH-18 it declares."""

from __future__ import annotations

import re

# MSH-18 (HL7 table 0211, plus spellings seen in the wild) -> Python codec.
_CHARSETS = {
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "US-ASCII": "ascii",
    "UNICODE": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
    "ISO IR192": "utf-8",
    "8859/1": "latin-1",
    "ISO IR100": "latin-1",
    "ISO-8859-1": "latin-1",
    "LATIN-1": "latin-1",
    "8859/15": "iso8859-15",
    "ISO-8859-15": "iso8859-15",
    "WINDOWS-1252": "cp1252",
    "CP1252": "cp1252",
    **{f"8859/{n}": f"iso8859-{n}" for n in range(2, 10)},
}

_CHARSET_NAME = re.compile(rb"[A-Za-z0-9 /._-]*")


def decode(raw: bytes) -> tuple[str, str]:
    """Decode a message by its MSH-18 character set; returns (text, codec). Never fails.

    Without a (known) MSH-18 the bytes are tried as UTF-8; anything that does not decode as
    declared or as UTF-8 is read as Latin-1, which accepts every byte.
    """
    codec = _CHARSETS.get(_declared_charset(raw).upper()) or "utf-8"
    try:
        return raw.decode(codec), codec
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def _declared_charset(raw: bytes) -> str:
    """MSH-18 (its first repetition) read straight from the bytes of the MSH line."""
    start = 0 if raw[:3] == b"MSH" else raw.find(b"MSH")
    if start < 0:
        return ""
    end = raw.find(b"\r", start)
    if end < 0:
        end = len(raw)
    newline = raw.find(b"\n", start, end)
    if newline >= 0:
        end = newline
    fs = raw[start + 3 : start + 4]
    if not fs or raw.count(fs, start, end) < 17:  # MSH-18 follows the 17th separator
        return ""
    value = raw[start:end].split(fs, 18)[17]
    match = _CHARSET_NAME.match(value)  # stops at "~" (repetition) or any other separator
    return match.group().strip().decode("ascii") if match else ""
