"""HL7 v2 acknowledgements: the ACK we answer a sender with, and reading the ACKs we get back.

Original mode (AA/AE/AR) and enhanced-mode accept acknowledgements (CA/CE/CR). The ACK keeps
the original's encoding characters and character set, so a Latin-1 sender gets Latin-1 back.
"""

from __future__ import annotations

import itertools
import re
import secrets
from datetime import datetime

from engine.formats.hl7v2 import (
    ERROR_TEXTS,
    HL7Error,
    HL7Message,
    Separators,
    decode,
    escape,
)

# Our own builder: python-hl7's create_ack needs a full python-hl7 parse, too slow for the hot path.

ACK_CODES = frozenset({"AA", "AE", "AR", "CA", "CE", "CR"})
_ERROR_ACKS = frozenset({"AE", "AR", "CE", "CR"})
_VERSION = re.compile(r"\s*(\d+)\.(\d+)")
_FALLBACK_MSH = "MSH|^~\\&"  # stands in when no MSH can be recovered: nothing to copy


def build_ack(
    original: HL7Message | bytes,
    code: str,
    text: str = "",
    error_code: str = "",
    *,
    control_id: str | None = None,
    application: str = "KANAL",
    facility: str = "",
    error_location: str = "",
) -> bytes:
    """An ACK for ``original`` (a parsed message, or raw bytes that may not even parse).

    MSH-3 = ``application``, MSH-4 = ``facility`` or the original MSH-6, MSH-5/6 = the
    original MSH-3/4; MSA-2 = the original MSH-10 ("" if it cannot be recovered). AE/AR/CE/CR
    carry an ERR segment with ``error_code`` (HL7 table 0357, default 207) and ``text``;
    ``error_location`` is "SEG^sequence^field" (e.g. "MSH^1^10") when known.
    Never raises for bytes input; raises ValueError for an unknown ``code``.
    """
    if code not in ACK_CODES:
        raise ValueError(f"ACK code must be one of {sorted(ACK_CODES)}, not {code!r}")
    msg = original if isinstance(original, HL7Message) else _recover(bytes(original))
    seps = msg.separators
    msh = msg.fields(0)
    segments = [
        _msh(msg, control_id, application, facility),
        _join(seps, "MSA", code, _field(msh, 10), escape(text, seps) if text else ""),
    ]
    if code in _ERROR_ACKS:
        segments.append(_err(msg, error_code or "207", text, error_location))
    ack = "\r".join(segments) + "\r"
    try:
        return ack.encode(msg.codec)
    except UnicodeEncodeError:  # e.g. Danish text in an ASCII ACK: keep the rest readable
        return ack.encode(msg.codec, "replace")


def parse_ack(raw: bytes) -> tuple[str, str, str]:
    """(MSA-1 code, MSA-2 control id, MSA-3 or ERR text) of an acknowledgement we received.

    Lenient about the MSH (destinations often leave out fields we require of messages), but
    raises :class:`HL7Error` when there is no MSA segment or no acknowledgement code.
    """
    text, codec = decode(raw)
    msg = HL7Message(raw, text, codec, strict=False)
    names = msg.segment_names()
    if "MSA" not in names:
        found = ", ".join(names[:10])
        raise HL7Error("100", f"no MSA segment in the acknowledgement (segments: {found})")
    code = msg.get("MSA-1").strip()
    if not code:
        raise HL7Error("101", "MSA-1 acknowledgement code is missing", "MSA^1^1")
    return code, msg.get("MSA-2"), msg.get("MSA-3") or _err_text(msg)


def _err_text(msg: HL7Message) -> str:
    # v2.5+: ERR-3.2, user message ERR-8, diagnostics ERR-7; before 2.5: ERR-1.4.2. Else a code.
    for path in ("ERR-3.2", "ERR-8", "ERR-7", "ERR-1.4.2", "ERR-3.1", "ERR-1.4.1"):
        value = msg.get(path)
        if value:
            return value
    return ""


def _recover(raw: bytes) -> HL7Message:
    """The original's MSH, leniently: from the message, else its first MSH-looking line."""
    text, codec = decode(raw)
    try:
        return HL7Message(raw, text, codec, strict=False)
    except HL7Error:
        pass
    for line in text.replace("\n", "\r").split("\r"):
        line = line.strip()
        if line.startswith("MSH"):
            try:
                return HL7Message(raw, line, codec, strict=False)
            except HL7Error:
                break  # an MSH we cannot read: answer with nothing copied from it
    return HL7Message(raw, _FALLBACK_MSH, codec, strict=False)


# ACK control ids: this process's random prefix and a counter (a uuid4 per ACK, from the
# OS's random source, cost more than the rest of the MSH); 20 characters, MSH-10's length.
_ACK_PREFIX = secrets.token_hex(4)
_ack_numbers = itertools.count(1)


def _next_ack_id() -> str:
    return f"{_ACK_PREFIX}{next(_ack_numbers):012d}"


def _msh(msg: HL7Message, control_id: str | None, application: str, facility: str) -> str:
    seps = msg.separators
    msh = msg.fields(0)
    cs = seps.component
    trigger = escape(msg.first_component(_field(msh, 9), 2), seps)
    fields = [
        "MSH",
        _field(msh, 2) or seps.encoding_characters,  # the original MSH-2, as written
        escape(application, seps),
        escape(facility, seps) if facility else _field(msh, 6),
        _field(msh, 3),
        _field(msh, 4),
        datetime.now().strftime("%Y%m%d%H%M%S"),
        "",
        f"ACK{cs}{trigger}{cs}ACK" if trigger else "ACK",
        escape(control_id, seps) if control_id else _next_ack_id(),
        _field(msh, 11) or "P",
        _field(msh, 12) or "2.5",
    ]
    charset = _field(msh, 18)
    if charset:
        fields += ["", "", "", "", "", charset]  # MSH-13..17 empty, MSH-18 copied
    return seps.field.join(fields)


def _err(msg: HL7Message, error_code: str, text: str, location: str) -> str:
    seps = msg.separators
    cs, ss = seps.component, seps.subcomponent
    description = escape(text or ERROR_TEXTS.get(error_code, "Application error"), seps)
    where = location.split("^") if location else []
    if _version(msg) >= (2, 5):
        # ERR-2 error location, ERR-3 HL7 error code (CWE), ERR-4 severity.
        coded = f"{error_code}{cs}{description}{cs}HL70357"
        return _join(seps, "ERR", "", cs.join(where), coded, "E")
    # Before 2.5: ERR-1 (ELD) = segment^sequence^field^code&text&coding system.
    coded = f"{error_code}{ss}{description}{ss}HL70357" if ss else error_code
    return _join(seps, "ERR", cs.join([*[*where, "", "", ""][:3], coded]))


def _version(msg: HL7Message) -> tuple[int, int]:
    match = _VERSION.match(msg.first_component(_field(msg.fields(0), 12)))
    return (int(match[1]), int(match[2])) if match else (2, 5)


def _field(fields: list[str], n: int) -> str:
    return fields[n] if n < len(fields) else ""


def _join(seps: Separators, *fields: str) -> str:
    """A segment; trailing empty fields are left out, as HL7 allows."""
    values = list(fields)
    while values and not values[-1]:
        values.pop()
    return seps.field.join(values)
