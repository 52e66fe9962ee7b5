"""Routing metadata of a parsed message, including the patient's CPR."""

from __future__ import annotations

from engine.formats.hl7v2.message import HL7Message
from engine.formats.hl7v2.separators import Separators
from engine.formats.hl7v2.values import _nth, _unescape
from engine.formats.metadata import Metadata


def extract_metadata(msg: HL7Message) -> Metadata:
    """Routing metadata of a parsed message (see :class:`Metadata`)."""
    msh = msg.fields(0)
    if len(msh) < 16:
        msh = msh + [""] * (16 - len(msh))
    seps, codec = msg.separators, msg.codec
    message_type = _first(msh[9], seps, codec, 0).split(seps.component)  # MSH-9 first repetition
    code = msg.unescape(message_type[0])
    trigger = msg.unescape(message_type[1]) if len(message_type) > 1 else ""
    cpr, patient_ids = _patient_ids(msg)
    # Positional: a slots dataclass takes keywords at less than half the speed.
    return Metadata(
        "hl7v2",  # format
        f"{code}^{trigger}" if trigger else code,  # type
        _first(msh[10], seps, codec, 0),  # control_id
        _party(_first(msh[3], seps, codec), _first(msh[4], seps, codec)),  # sender
        _party(_first(msh[5], seps, codec), _first(msh[6], seps, codec)),  # receiver
        _first(msh[12], seps, codec),  # version
        cpr,
        patient_ids,
        codec,  # charset
        None,  # envelope_id
        msh[15].strip().upper() != "NE",  # receipt_requested
    )


def _first(value: str, seps: Separators, codec: str, n: int = 1) -> str:
    """Component ``n`` of the first repetition of a raw value, unescaped.

    ``n`` = 0 keeps the whole first repetition. The metadata path calls this for every
    message, hence the fast path first.
    """
    _, cs, rs, es, ss = seps
    if rs and rs in value:
        value = value.split(rs, 1)[0]
    if n and cs in value:
        value = _nth(value, cs, n)
    elif n > 1:
        return ""
    if not es or es not in value:
        return value
    if cs in value or (ss and ss in value):
        return value  # still structured: keep it encoded, as HL7Message.get does
    return _unescape(value, seps, codec)


def _party(application: str, facility: str) -> str:
    # "APP^FAC"; an empty part is kept ("APP^"), but nothing at all stays "".
    return f"{application}^{facility}" if application or facility else ""


def _patient_ids(msg: HL7Message) -> tuple[str | None, list[str]]:
    """(CPR or None, every PID-3 CX.1) from the first PID segment."""
    index = msg._segment_index("PID", 1)
    fields = msg.fields(index) if index >= 0 else ()
    pid3 = fields[3] if len(fields) > 3 else ""
    if not pid3:
        return None, []
    _, cs, rs, es, _ = msg.separators
    cpr: str | None = None
    ids: list[str] = []
    for rep in pid3.split(rs) if rs else (pid3,):
        cx = rep.split(cs)
        number = cx[0]
        if es and es in number:
            number = msg.unescape(number)
        if number:
            ids.append(number)
            if cpr is None and len(cx) > 3 and _is_cpr_identifier(cx):
                cpr = normalise_cpr(number)
    return cpr, ids


def _is_cpr_identifier(cx: list[str]) -> bool:
    authority = cx[3].upper() if len(cx) > 3 else ""
    id_type = cx[4].upper() if len(cx) > 4 else ""
    return "CPR" in authority or "CPR" in id_type or id_type in ("NNDN", "NNDK")


def normalise_cpr(value: str) -> str | None:
    """A CPR as 10 digits ("010145-1234" -> "0101451234"), or None if it is not one."""
    digits = value.strip().replace("-", "")
    return digits if len(digits) == 10 and digits.isascii() and digits.isdigit() else None
