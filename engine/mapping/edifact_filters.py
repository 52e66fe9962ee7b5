"""Filters for MedCom EDIFACT ↔ OIOXML: dates, free text, the letter's XML namespace.

Free text in MedCom EDIFACT travels in FTX segments, five components each. Every
component is one line of the text; a component that ends with a backslash continues on
the next (a long line wrapped at 70 characters), and "." is an empty line. In OIOXML the
same text has a `<Break/>` after every line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from engine.standards import medcom

TEXT_WIDTH = 70  # characters in one FTX component, the continuation backslash included
PER_SEGMENT = 5  # components of FTX C108 (free text)
CONTINUED = "\\"
EMPTY_LINE = "."
DEFAULT_NAMESPACE = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"
_DIGITS = re.compile(r"^\d+$")


def edifact_to_medcom_date(value: str) -> str:
    """199901151012 (203), 19990115 (102) or UNB's 990115 → 1999-01-15."""
    digits = _digits(value)
    if len(digits) == 6:  # YYMMDD: the century by a pivot, as two-digit years must be read
        century = "19" if int(digits[:2]) >= 50 else "20"
        digits = century + digits
    if len(digits) < 8:
        raise ValueError(f"{value!r} is not an EDIFACT date (YYMMDD, CCYYMMDD[HHMM[SS]])")
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"


def edifact_to_medcom_time(value: str) -> str:
    """199901151012 → 10:12; UNB's time 1202 → 12:02."""
    digits = _digits(value)
    if len(digits) == 4:
        return f"{digits[:2]}:{digits[2:]}"
    if len(digits) < 12:
        raise ValueError(f"{value!r} has no time (CCYYMMDDHHMM[SS] or HHMM)")
    return f"{digits[8:10]}:{digits[10:12]}"


def medcom_to_edifact(date: str, time: str = "", fmt: str = "203") -> str:
    """MedCom XML's Date and Time as EDIFACT date/time format `fmt`: 101 YYMMDD,
    102 CCYYMMDD, 203 CCYYMMDDHHMM, 204 CCYYMMDDHHMMSS; "time" gives HHMM alone."""
    day = date.strip().replace("-", "")
    clock = time.strip().replace(":", "")
    formats = {
        "101": day[2:],
        "102": day,
        "203": day + clock[:4],
        "204": day + (clock + "00")[:6],
        "time": clock[:4],
    }
    if fmt not in formats:
        raise ValueError(f"EDIFACT date format {fmt!r}: expected one of {sorted(formats)}")
    return formats[fmt]


def edifact_text(components: Iterable[Any]) -> str:
    """FTX components (texts or source items) in order → the text, a newline per line."""
    parts: list[str] = []
    for component in components:
        text = component.text() if hasattr(component, "text") else str(component)
        if text.endswith(CONTINUED):
            parts.append(text[: -len(CONTINUED)])
        else:
            parts.append(("" if text == EMPTY_LINE else text) + "\n")
    return "".join(parts)


def edifact_text_lines(text: str, width: int = TEXT_WIDTH) -> list[str]:
    """The text as FTX components: each line wrapped at `width` (continuations end with a
    backslash), an empty line as "."."""
    if not text:
        return []
    lines = text[:-1] if text.endswith("\n") else text
    components: list[str] = []
    for line in lines.split("\n"):
        components.extend(_wrapped(line, width) if line else [EMPTY_LINE])
    return components


def edifact_text_segments(text: str, width: int = TEXT_WIDTH) -> list[list[str]]:
    """The components of `edifact_text_lines`, five to an FTX segment."""
    lines = edifact_text_lines(text, width)
    return [lines[i : i + PER_SEGMENT] for i in range(0, len(lines), PER_SEGMENT)]


def _wrapped(line: str, width: int) -> list[str]:
    """Greedy at spaces (a space stays at the end of its piece, before the backslash); a
    word longer than a line is cut."""
    pieces: list[str] = []
    room = width - len(CONTINUED)
    while len(line) > width:
        cut = line.rfind(" ", 0, room) + 1 or room
        pieces.append(line[:cut] + CONTINUED)
        line = line[cut:]
    pieces.append(line)
    return pieces


def oioxml_namespace(statistical_code: str, edifact_version: str) -> str:
    """The OIOXML namespace of an EDIFACT letter: the catalogue's XML form whose
    VersionCode is the EDIFACT one with "X" in front; else MedCom's default, 2005-08-07."""
    found = medcom.message_type(statistical_code.removeprefix("X"))
    version = "X" + edifact_version
    for form in found.xml if found is not None else ():
        if version in form.version_codes:
            return form.namespace
    return DEFAULT_NAMESPACE


def edifact_message_of(version_code: str) -> str:
    """A MedCom version code's UNH message identifier without it: H0130R → MEDREF:D:93A:UN
    (the catalogue's message types; receipts name the letters they answer this way)."""
    code = version_code.removeprefix("X")
    for kind in medcom.catalogue().types.values():
        form = kind.edifact
        if form is not None and code in form.all_version_codes:
            return ":".join(p for p in (form.message, form.directory or "") if p)
    raise ValueError(f"version code {version_code!r} is not in the MedCom catalogue")


def base64_lines(value: str, width: int = 76) -> str:
    """Base64 in lines of `width` characters (MIME's 76, as MedCom's XBIN01 carries it)."""
    text = "".join(value.split())
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


def _digits(value: str) -> str:
    text = value.strip()
    if not _DIGITS.match(text):
        raise ValueError(f"{value!r} is not an EDIFACT date/time")
    return text


EDIFACT_FILTERS: dict[str, Callable[..., Any]] = {
    "edifact_to_medcom_date": edifact_to_medcom_date,
    "edifact_to_medcom_time": edifact_to_medcom_time,
    "medcom_to_edifact": medcom_to_edifact,
    "edifact_text": edifact_text,
    "edifact_text_lines": edifact_text_lines,
    "oioxml_namespace": oioxml_namespace,
    "edifact_message_of": edifact_message_of,
    "base64_lines": base64_lines,
}
