"""The filters mapping templates get: dates, CPR, identifiers. Small and well named."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

_HL7_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?$")


def hl7_to_fhir_datetime(value: str) -> str:
    """20250314093000+0100 → 2025-03-14T09:30:00+01:00 (date only when no time is given)."""
    match = _HL7_TS.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not an HL7 date/time (YYYYMMDD[HHMM[SS]][+ZZZZ])")
    year, month, day, hour, minute, second, zone = match.groups()
    if not (month and day):
        return "-".join(p for p in (year, month) if p)
    date = f"{year}-{month}-{day}"
    if not hour:
        return date
    offset = f"{zone[:3]}:{zone[3:]}" if zone else "Z"
    return f"{date}T{hour}:{minute or '00'}:{second or '00'}{offset}"


def hl7_to_fhir_date(value: str) -> str:
    return hl7_to_fhir_datetime(value[:8])


def cpr_hyphen(value: str) -> str:
    """0101451234 → 010145-1234."""
    digits = value.replace("-", "")
    if not re.fullmatch(r"\d{10}", digits):
        raise ValueError("not a CPR number: expected 10 digits")
    return f"{digits[:6]}-{digits[6:]}"


def cpr_digits(value: str) -> str:
    """010145-1234 → 0101451234."""
    digits = value.replace("-", "")
    if not re.fullmatch(r"\d{10}", digits):
        raise ValueError("not a CPR number: expected 10 digits")
    return digits


def uuid_for(*parts: Any) -> str:
    """A UUID that is the same for the same inputs (stable ids for repeatable output)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "kanal:" + "|".join(str(p) for p in parts)))


def new_uuid(_: Any = None) -> str:
    return str(uuid.uuid4())


FILTERS: dict[str, Callable[..., Any]] = {
    "hl7_to_fhir_datetime": hl7_to_fhir_datetime,
    "hl7_to_fhir_date": hl7_to_fhir_date,
    "cpr_hyphen": cpr_hyphen,
    "cpr_digits": cpr_digits,
    "uuid_for": uuid_for,
    "new_uuid": new_uuid,
}
