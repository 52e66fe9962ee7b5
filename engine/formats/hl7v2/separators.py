"""Separators: MSH-1 (field separator) and MSH-2 (encoding characters) of a message."""

from __future__ import annotations

import re
from typing import NamedTuple

from engine.formats.hl7v2.errors import HL7Error


class Separators(NamedTuple):
    """MSH-1 and MSH-2 of a message; a character the sender did not declare is ""."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @property
    def encoding_characters(self) -> str:
        """MSH-2 as this message writes it."""
        return self.component + self.repetition + self.escape + self.subcomponent


DEFAULT_SEPARATORS = Separators()
_STANDARD_ENCODING = "^~\\&"


def _read_msh(first: str) -> Separators:
    if first[:8] == "MSH|^~\\&" and first[8:9] in ("|", ""):
        return DEFAULT_SEPARATORS  # nearly every message: skip the checks below
    if not first.startswith("MSH"):
        tag = first[:3]
        if tag in ("FHS", "BHS"):
            raise HL7Error("100", f"input is an HL7 batch ({tag} header): use split_batch first")
        raise HL7Error("100", f"no MSH segment: message starts with {_preview(first)}")
    fs = first[3:4]
    if not fs:
        raise HL7Error("100", "MSH segment too short: no field separator (MSH-1)")
    if fs.isalnum() or fs.isspace():
        raise HL7Error("100", f"MSH-1 field separator {fs!r} is not a valid separator")
    end = first.find(fs, 4)
    return _read_encoding(fs, first[4:] if end < 0 else first[4:end])


def _read_encoding(fs: str, enc: str) -> Separators:
    if not enc:
        raise HL7Error("100", "MSH-2 encoding characters are missing", "MSH^1^2")
    enc = enc[:4]  # a 5th (v2.7 truncation character) plays no part in reading
    if len(set(enc)) < len(enc) or fs in enc:
        raise HL7Error("100", f"MSH-2 encoding characters {enc!r} repeat a character", "MSH^1^2")
    if len(enc) < 4 and _is_subsequence(enc, _STANDARD_ENCODING):
        # A sender that drops one (often "^\&", no repetition) keeps the others' meaning.
        cs, rs, es, ss = (c if c in enc else "" for c in _STANDARD_ENCODING)
        if not cs:  # every field with structure (MSH-9 "ADT^A01" already) needs one
            reason = f"MSH-2 encoding characters {enc!r} have no component separator"
            raise HL7Error("100", reason, "MSH^1^2")
        return Separators(fs, cs, rs, es, ss)
    cs, rs, es, ss = (enc[i : i + 1] for i in range(4))
    return Separators(fs, cs, rs, es, ss)


def _is_subsequence(part: str, whole: str) -> bool:
    it = iter(whole)
    return all(c in it for c in part)


def _preview(segment: str) -> str:
    # Only a segment id and its separator: anything further may be patient data (a CPR...).
    if _SEGMENT_ID.match(segment):
        return repr(segment[:4] + "...") if len(segment) > 4 else repr(segment)
    return f"{segment[:1]!r}, not a segment id"


_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}(?![A-Za-z0-9])")
