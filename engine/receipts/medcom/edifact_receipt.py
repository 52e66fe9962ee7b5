"""CONTRL receipts for a received MedCom EDIFACT interchange: CTL03 positive, CTL02 negative.

The layout is MedCom's own, read from pairs/CTL02_1.edi and pairs/CTL03_1.edi (receipts for
an interchange MEDREF01095 from 5790000181872 to 5790000120420):

    UNB+UNOC:3+5790000120420:14+5790000181872:14+991111:1850+KuvertNr1234'
        the receipt's UNB: sender = the received UNB recipient and vice versa, our own
        envelope number, no acknowledgement request (XML: minuspositivkvitt)
    UNH+BrevNr5678+CONTRL:D:93A:ZZ:C0230Q+CTL02'
        our own letter number; CONTRL:D:93A:ZZ + version code C0230Q/C0330Q + BrvStat
    UCI+MEDREF01095+5790000181872:14+5790000120420:14+4'
        the received UNB: reference (UNB 0020), sender and recipient *as received* (so
        swapped against the receipt's own UNB), action 4 (CTL02) or 7 (CTL03)
    UCM+1111MAN01095+MEDREF:D:93A:UN:H0130R+4'
        the received UNH: reference (0062) and message identifier S009; action 4 or 7
    FTX+VER+P00++<text>'
        CTL02 only: the refusal code, "P00" (as in both CTL01_1 and CTL02_1) and the text,
        wrapped as ftx.py describes. After the UCM when the letter is refused (CTL02_1); after
        the UCI, before the UCMs, when the envelope is (pairs/CTL01_1.edi, refusal LOK)
    UNT+5+BrevNr5678'  UNZ+1+KuvertNr1234'

Action codes (UN/EDIFACT 0083, as the pairs use them): 7 = "this level acknowledged" in
CTL03_1 (XML: PositiveReceipt), 4 = "this level and all lower levels rejected" in CTL01_1 and
CTL02_1 (XML: NegativeVansReceipt, NegativeReceipt), on the UCI as well as on every UCM.

Output: ISO 8859-1 (UNOC:3), always with UNA, each segment terminator followed by CRLF. The
pairs themselves end segments with LF only and edifact_negative/*.edi with CRLF; line breaks
are never data in MedCom EDIFACT, so either reads the same (``line_end`` chooses).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Literal

from engine.formats.edifact import EdifactInterchange
from engine.receipts.medcom import ftx
from engine.receipts.medcom.envelope import Envelope, Party, from_bytes, from_interchange
from engine.receipts.medcom.ids import derived_id
from engine.standards.medcom import catalogue

REJECTED = "4"  # pairs/CTL01_1.edi, CTL02_1.edi: UCI and UCM element 4/3
ACCEPTED = "7"  # pairs/CTL03_1.edi
FTX_FUNCTION = "P00"  # FTX element 2 in pairs/CTL01_1.edi and CTL02_1.edi
GLN_QUALIFIER = "14"  # every MedCom UNB partner id (pairs/*.edi)
UNKNOWN = "UKENDT"  # stands in for an id the broken input did not give (Danish: unknown)
UNA = "UNA:+.? '"
_RELEASE = {"?": "??", ":": "?:", "+": "?+", "'": "?'"}
# A CONTRL is never answered with a CONTRL: receipts are not receipted (as FHIR KR2.R).
RECEIPT_MESSAGE = "CONTRL"

Received = EdifactInterchange | bytes


def receipt_requested(received: Received) -> bool:
    """UNB 0031 = 1: the sender asked for a positive receipt (OIOXML: pluspositivkvitt;
    pairs/REQ02_1.edi has ++++1, the XML AcknowledgementCode pluspositivkvitt)."""
    return _envelope(received).acknowledgement_request == "1"


def is_receipt(received: Received) -> bool:
    envelope = _envelope(received)
    return any(letter.message_type == RECEIPT_MESSAGE for letter in envelope.letters)


def edifact_receipt(
    received: Received,
    refusal: tuple[str, str] | None = None,
    *,
    timestamp: datetime,
    line_end: str = "\r\n",
) -> bytes | None:
    """The receipt owed for `received`: CTL02 when ``refusal`` = (code, text) is given, CTL03
    when it was accepted and the sender asked for a receipt, else None. Never a receipt for
    a receipt (CONTRL)."""
    if is_receipt(received):
        return None
    if refusal is not None:
        code, text = refusal
        return build_ctl02(received, code, text, timestamp=timestamp, line_end=line_end)
    if receipt_requested(received):
        return build_ctl03(received, timestamp=timestamp, line_end=line_end)
    return None


def build_ctl03(
    received: Received,
    *,
    timestamp: datetime,
    envelope_id: str | None = None,
    letter_id: str | None = None,
    line_end: str = "\r\n",
) -> bytes:
    """CTL03 positive receipt. Ids default to ones derived from the received envelope."""
    envelope = _envelope(received)
    body = [
        _uci(envelope, ACCEPTED),
        *(_ucm(letter.reference, letter.identifier, ACCEPTED) for letter in envelope.letters),
    ]
    return _interchange(envelope, "CTL03", body, timestamp, envelope_id, letter_id, line_end)


def build_ctl02(
    received: Received,
    code: str,
    text: str,
    *,
    timestamp: datetime,
    level: Literal["envelope", "letter"] | None = None,
    envelope_id: str | None = None,
    letter_id: str | None = None,
    own_id: str = "",
    partner_id: str = "",
    line_end: str = "\r\n",
) -> bytes:
    """CTL02 negative receipt with a MedCom refusal code (SYN, VER, LOK, MID, NC, or the
    OIOXML RefuseCode) and a human text.

    ``level``: "letter" puts the FTX after each UCM (CTL02_1), "envelope" after the UCI
    (CTL01_1). Default: envelope for LOK and MID (they concern the UNB recipient) and when no
    UNH could be read, else letter.

    Input so broken that UNB cannot be read still gets a receipt: the receipt's sender falls
    back to ``own_id`` (our GLN) and its recipient to ``partner_id`` (who the transport says
    sent it), each else "UKENDT"; a missing envelope reference is "UKENDT" in the UCI; no
    readable UNH gives no UCM (the FTX then refuses the envelope); the receipt's ids derive
    from the raw bytes so the same garbage still gets the same receipt.
    """
    refusal = catalogue().refusal(code).code
    envelope = _envelope(received)
    if not envelope.sender.id and partner_id:
        envelope = replace(envelope, sender=Party(partner_id, GLN_QUALIFIER))
    if not envelope.recipient.id and own_id:
        envelope = replace(envelope, recipient=Party(own_id, GLN_QUALIFIER))
    if level is None:
        level = "envelope" if refusal in ("LOK", "MID") or not envelope.letters else "letter"
    if not envelope.letters:
        level = "envelope"
    free_text = _ftx(refusal, text)
    body = [_uci(envelope, REJECTED)]
    if level == "envelope":
        body.append(free_text)
    for letter in envelope.letters:
        body.append(_ucm(letter.reference, letter.identifier, REJECTED))
        if level == "letter":
            body.append(free_text)
    salt = "" if envelope.readable else _raw_digest(received)
    return _interchange(
        envelope, "CTL02", body, timestamp, envelope_id, letter_id, line_end, refusal, salt
    )


# ---------------------------------------------------------------------------------------------


def _envelope(received: Received) -> Envelope:
    if isinstance(received, EdifactInterchange):
        return from_interchange(received)
    return from_bytes(bytes(received))


def _interchange(
    envelope: Envelope,
    kind: str,
    body: list[str],
    timestamp: datetime,
    envelope_id: str | None,
    letter_id: str | None,
    line_end: str,
    *salt: str,
) -> bytes:
    form = catalogue().types[kind].edifact
    assert form is not None and form.directory is not None  # the catalogue has both for CTL
    seed = (
        kind,
        envelope.reference,
        envelope.sender.id,
        envelope.recipient.id,
        *(letter.reference for letter in envelope.letters),
        *salt,
    )
    version = form.version_codes[0]  # C0230Q / C0330Q
    envelope_id = envelope_id or derived_id("K", *seed)
    letter_id = letter_id or derived_id("B", *seed)
    message = [
        _segment("UNH", letter_id, [form.message, *form.directory.split(":"), version], kind),
        *body,
    ]
    message.append(_segment("UNT", str(len(message) + 1), letter_id))
    segments = [
        _segment(
            "UNB",
            ["UNOC", "3"],
            _party(envelope.recipient),  # we were its recipient: now we send
            _party(envelope.sender),
            [timestamp.strftime("%y%m%d"), timestamp.strftime("%H%M")],
            envelope_id,
        ),
        *message,
        _segment("UNZ", "1", envelope_id),
    ]
    text = "".join(f"{s}{line_end}" for s in [UNA, *segments])
    return text.encode("iso-8859-1")


def _uci(envelope: Envelope, action: str) -> str:
    return _segment(
        "UCI",
        envelope.reference or UNKNOWN,
        _party(envelope.sender),
        _party(envelope.recipient),
        action,
    )


def _ucm(reference: str, identifier: tuple[str, ...], action: str) -> str:
    return _segment("UCM", reference or UNKNOWN, list(identifier) or [UNKNOWN], action)


def _ftx(code: str, text: str) -> str:
    return _segment("FTX", code, FTX_FUNCTION, "", ftx.wrap(_latin1(text)))


def _party(party: Party) -> list[str]:
    return [party.id or UNKNOWN, party.qualifier or GLN_QUALIFIER]


def _segment(tag: str, *elements: str | list[str]) -> str:
    """A segment; every value escaped with the release character. Trailing empties dropped."""
    parts = [tag]
    for element in elements:
        values = [element] if isinstance(element, str) else list(element)
        while len(values) > 1 and not values[-1]:
            values.pop()
        parts.append(":".join(_escape(v) for v in values))
    while len(parts) > 1 and not parts[-1]:
        parts.pop()
    return "+".join(parts) + "'"


def _escape(value: str) -> str:
    return "".join(_RELEASE.get(char, char) for char in value)


def _latin1(text: str) -> str:
    """Text the receipt can carry: UNOC is ISO 8859-1, other characters become "?"."""
    return text.encode("iso-8859-1", "replace").decode("iso-8859-1")


def _raw_digest(received: Received) -> str:
    raw = received.raw if isinstance(received, EdifactInterchange) else bytes(received)
    return hashlib.sha256(raw).hexdigest()
