"""Which HL7 acknowledgement a sender gets for what we received.

Original mode (no MSH-15): AA/AE. Enhanced mode (MSH-15 present): the commit
acknowledgement CA/CE. Over MLLP we always answer, even for MSH-15 = NE: a sender
blocked waiting for a reply that never comes is worse than one unrequested ACK.
"""

from __future__ import annotations

from engine.formats.hl7v2 import HL7Message
from engine.pipeline.receive import Receipt
from engine.receipts.hl7_ack import build_ack

STORE_UNAVAILABLE = "message not stored: the store is unavailable, send again later"
ENHANCED = ("AL", "NE", "ER", "SU")


def answer(receipts: list[Receipt]) -> bytes:
    """The reply frame: one ACK per message (several for a batch)."""
    return b"".join(_ack(receipt) for receipt in receipts)


def _ack(receipt: Receipt) -> bytes:
    parsed = receipt.parsed
    message = parsed.parsed if isinstance(parsed.parsed, HL7Message) else None
    enhanced = message is not None and message.get("MSH-15").upper() in ENHANCED
    if receipt.error is None:
        return build_ack(message or parsed.raw, "CA" if enhanced else "AA")
    return build_ack(
        message or parsed.raw, "CE" if enhanced else "AE", receipt.error, parsed.error_code or "207"
    )


def refuse(raw: bytes, reason: str, code: str = "207") -> bytes:
    """AR: the message was not taken (store down, too large); the sender should resend."""
    return build_ack(raw, "AR", reason, code)
