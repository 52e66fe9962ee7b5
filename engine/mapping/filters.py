"""The filters mapping templates get: dates, CPR, identifiers. Small and well named."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.mapping.edifact_filters import EDIFACT_FILTERS

DANISH_TIME = ZoneInfo("Europe/Copenhagen")  # HL7 and MedCom times without a zone are local
SOR_URL = "https://sor2.sum.dsdn.dk/#id="

_HL7_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?$")


def hl7_to_fhir_datetime(value: str) -> str:
    """20250314093000+0100 → 2025-03-14T09:30:00+01:00 (date only when no time is given).

    A time without a zone is Danish local time: the offset is +01:00 or +02:00 by date."""
    match = _HL7_TS.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not an HL7 date/time (YYYYMMDD[HHMM[SS]][+ZZZZ])")
    year, month, day, hour, minute, second, zone = match.groups()
    if not (month and day):
        return "-".join(p for p in (year, month) if p)
    date = f"{year}-{month}-{day}"
    if not hour:
        return date
    local = f"{date}T{hour}:{minute or '00'}:{second or '00'}"
    if zone:
        return f"{local}{zone[:3]}:{zone[3:]}"
    return datetime.fromisoformat(local).replace(tzinfo=DANISH_TIME).isoformat()


def hl7_to_medcom_date(value: str) -> str:
    """20250314093000 → 2025-03-14 (MedCom XML's Date)."""
    return hl7_to_fhir_datetime(value.strip()[:8])


def hl7_to_medcom_time(value: str) -> str:
    """20250314093000 → 09:30 (MedCom XML's Time, local)."""
    return fhir_to_medcom_time(hl7_to_fhir_datetime(value))


def medcom_to_fhir_datetime(date: str, time: str = "") -> str:
    """MedCom XML's Date 2023-11-20 and Time 17:45 → 2023-11-20T17:45:00+01:00."""
    if not time:
        return datetime.strptime(date.strip(), "%Y-%m-%d").date().isoformat()
    local = datetime.strptime(f"{date.strip()} {time.strip()}", "%Y-%m-%d %H:%M")
    return local.replace(tzinfo=DANISH_TIME).isoformat()


def medcom_to_hl7_datetime(date: str, time: str = "") -> str:
    """2025-03-14 and 09:25 → 202503140925 (HL7 TS, local time)."""
    text = date.strip().replace("-", "")
    return text + time.strip().replace(":", "") if time else text


def _wall_clock(value: str) -> datetime:
    # The sender's own clock time, as written: MedCom's converter keeps it, whatever offset.
    return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))


def fhir_to_medcom_date(value: str) -> str:
    """2023-11-22T12:32:00+02:00 → 2023-11-22 (the date as the sender wrote it)."""
    return _wall_clock(value).strftime("%Y-%m-%d")


def fhir_to_medcom_time(value: str) -> str:
    """2023-11-22T12:32:00+02:00 → 12:32 (the time as the sender wrote it)."""
    return _wall_clock(value).strftime("%H:%M")


def sor_url(value: str) -> str:
    """A SOR code as MedCom FHIR's endpoint: https://sor2.sum.dsdn.dk/#id=<sor>."""
    return SOR_URL + value.strip()


def sor_code(value: str) -> str:
    """The SOR code in a MedCom FHIR endpoint URL."""
    return value.strip().removeprefix(SOR_URL)


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
    "hl7_to_medcom_date": hl7_to_medcom_date,
    "hl7_to_medcom_time": hl7_to_medcom_time,
    "medcom_to_fhir_datetime": medcom_to_fhir_datetime,
    "medcom_to_hl7_datetime": medcom_to_hl7_datetime,
    "fhir_to_medcom_date": fhir_to_medcom_date,
    "fhir_to_medcom_time": fhir_to_medcom_time,
    "sor_url": sor_url,
    "sor_code": sor_code,
    "cpr_hyphen": cpr_hyphen,
    "cpr_digits": cpr_digits,
    "uuid_for": uuid_for,
    "new_uuid": new_uuid,
    **EDIFACT_FILTERS,
}
