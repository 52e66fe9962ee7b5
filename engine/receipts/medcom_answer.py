"""Which MedCom receipt a sender gets for what we received, once it is committed.

EDIFACT: CTL03 when asked for, CTL02 with a refusal code for anything we could not take.
OIOXML: XCTL03 / XCTL02 likewise. FHIR: an Acknowledgement for every message (ok or
fatal-error), never for an acknowledgement. The receipt's time is when the message (or,
for a duplicate, the first of its kind) was received, and its ids come from the received
ids: a duplicate gets the identical receipt again.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from lxml import etree

from engine.formats.edifact import EdifactInterchange
from engine.formats.envelope import EnvelopeError, vans_receipt
from engine.pipeline.receive import Receipt
from engine.receipts.medcom import (
    build_acknowledgement,
    edifact_receipt,
    needs_acknowledgement,
    xml_receipt,
)

DANISH_TIME = ZoneInfo("Europe/Copenhagen")  # MedCom receipts carry local time
REFUSAL_CODES = frozenset({"SYN", "VER", "LOK", "MID", "NC"})
NOT_SPECIFIED = "NC"  # a letter we could read but not take (e.g. it cannot be mapped)


def medcom_reply(receipt: Receipt) -> bytes | None:
    """The receipt to send back, or None when none is owed (or none can be built)."""
    parsed = receipt.parsed
    fmt = parsed.meta.format
    when = datetime.fromtimestamp(receipt.received_at, DANISH_TIME)
    refusal = _refusal(receipt)
    if fmt == "edifact":
        received = parsed.parsed if isinstance(parsed.parsed, EdifactInterchange) else parsed.raw
        return edifact_receipt(received, refusal, timestamp=when)
    if fmt == "xml" and isinstance(parsed.parsed, etree._Element):
        return xml_receipt(parsed.parsed, refusal, timestamp=when)
    if fmt == "fhir" and isinstance(parsed.parsed, dict) and needs_acknowledgement(parsed.parsed):
        if refusal is None:
            answer = build_acknowledgement(parsed.parsed, timestamp=when)
        else:
            answer = build_acknowledgement(
                parsed.parsed, "fatal-error", timestamp=when, text=refusal[1]
            )
        return json.dumps(answer, ensure_ascii=False).encode()
    return None


def transport_reply(receipt: Receipt) -> bytes | None:
    """The VANSEnvelopeAcknowledgement a reliable VANSEnvelope is owed (positive, or
    negative with the reason), besides the letter's own receipt. Its id comes from the
    received envelope's, so a duplicate is acknowledged the same way."""
    envelope = receipt.parsed.envelope
    if envelope is None or envelope.kind != "vans" or not envelope.receipt_requested:
        return None
    if envelope.receipt is not None:  # itself an acknowledgement: never answered
        return None
    identifier = str(uuid.uuid5(uuid.NAMESPACE_URL, f"kanal:vans-receipt:{envelope.envelope_id}"))
    try:
        return vans_receipt(
            envelope,
            error=(receipt.error or "")[:512],
            envelope_id=identifier,
            sent=datetime.fromtimestamp(receipt.received_at, DANISH_TIME),
        )
    except EnvelopeError:  # an envelope too broken to be answered at the VANS level
        return None


def _refusal(receipt: Receipt) -> tuple[str, str] | None:
    if receipt.error is None:
        return None
    code = receipt.parsed.error_code
    return (code if code in REFUSAL_CODES else NOT_SPECIFIED), receipt.error


def receipt_name(stem: str, answer: bytes) -> str:
    """A file name for a receipt: what it answers (e.g. the letter's file), and its kind."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:80]
    head = answer.lstrip()[:1]
    kind = "ack.json" if head == b"{" else "receipt.xml" if head == b"<" else "receipt.edi"
    if b"VANSEnvelope" in answer[:400]:
        kind = "vans-receipt.xml"
    return f"{safe}.{kind}"
