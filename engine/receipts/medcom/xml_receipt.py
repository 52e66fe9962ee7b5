"""OIOXML receipts for a received letter: XCTL03 PositiveReceipt, XCTL02 NegativeReceipt.

Layout from pairs/CTL02_1.xml and CTL03_1.xml (the XML forms of the CONTRL pairs) and
xml/conversion_service_oioxml_fhir/Flow2-XCTL03_*.xml; elements and their order from
xsd/oioxml/2005-08-07/PositiveReceipt.xsd and NegativeReceipt.xsd:

    Envelope: Sent (our timestamp), our Identifier, AcknowledgementCode minuspositivkvitt
    Letter: our Identifier, VersionCode XC0330Q / XC0230Q, StatisticalCode XCTL03 / XCTL02
    Sender = the received letter's Receiver, Receiver = its Sender
    OriginalEmessage: the received Envelope/Identifier, OriginalSender and OriginalReceiver
      as received, then RefuseCode + RefuseText (envelope level, as pairs/CTL01_1.xml) and
      one OriginalLetter per received letter (Identifier, VersionCode, and for a letter-level
      refusal its RefuseCode + RefuseText, as pairs/CTL02_1.xml)

RefuseText is BreakableText: each line of the text followed by <Break/> (CTL01_1.xml,
CTL02_1.xml). Only the 2005-08-07 namespace has receipt schemas (standards/medcom
message-types.toml, types.CTL02/CTL03): a letter in any other namespace gets its receipt there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from lxml import etree

from engine.receipts.medcom.ids import derived_id
from engine.receipts.medcom.oioxml import RECEIPT_LETTERS, letters, local, text_at
from engine.standards.medcom import catalogue

FALLBACK_NAMESPACE = "2005-08-07"
NOT_REQUESTED = "minuspositivkvitt"  # a receipt never asks for a receipt (all CTL pairs)
REQUESTED = "pluspositivkvitt"
UNKNOWN = "UKENDT"


def receipt_requested(root: etree._Element) -> bool:
    return text_at(root, "Envelope/AcknowledgementCode") == REQUESTED


def is_receipt(root: etree._Element) -> bool:
    return any(local(letter) in RECEIPT_LETTERS for letter in letters(root))


def xml_receipt(
    root: etree._Element, refusal: tuple[str, str] | None = None, *, timestamp: datetime
) -> bytes | None:
    """XCTL02 when ``refusal`` = (code, text) is given, XCTL03 when accepted and the sender
    asked for it (pluspositivkvitt), else None. Never a receipt for a receipt."""
    if is_receipt(root):
        return None
    if refusal is not None:
        return build_xctl02(root, *refusal, timestamp=timestamp)
    return build_xctl03(root, timestamp=timestamp) if receipt_requested(root) else None


def build_xctl03(
    root: etree._Element,
    *,
    timestamp: datetime,
    envelope_id: str | None = None,
    letter_id: str | None = None,
) -> bytes:
    """XCTL03 PositiveReceipt for the received Emessage ``root``; ISO-8859-1 bytes."""
    return _receipt(root, "CTL03", timestamp, envelope_id, letter_id, None, "letter")


def build_xctl02(
    root: etree._Element,
    code: str,
    text: str,
    *,
    timestamp: datetime,
    level: Literal["envelope", "letter"] | None = None,
    envelope_id: str | None = None,
    letter_id: str | None = None,
) -> bytes:
    """XCTL02 NegativeReceipt; ``code`` is SYN/VER/LOK/MID/NC or the RefuseCode itself.
    ``level`` as for the EDIFACT CTL02: envelope for LOK/MID or no letter, else letter."""
    refusal = catalogue().refusal(code)
    if level is None:
        level = "envelope" if refusal.code in ("LOK", "MID") else "letter"
    refuse = (refusal.xml_refuse_code, text)
    return _receipt(root, "CTL02", timestamp, envelope_id, letter_id, refuse, level)


# ---------------------------------------------------------------------------------------------


def _receipt(
    root: etree._Element,
    kind: str,
    timestamp: datetime,
    envelope_id: str | None,
    letter_id: str | None,
    refuse: tuple[str, str] | None,
    level: str,
) -> bytes:
    message_type = catalogue().types[kind]
    namespace = _receipt_namespace(root, kind)
    form = next(f for f in message_type.xml if f.namespace == namespace)
    received_envelope = text_at(root, "Envelope/Identifier")
    received = [
        (text_at(letter, "Letter/Identifier"), text_at(letter, "Letter/VersionCode"))
        for letter in letters(root)
    ]
    sender = _first_of_letters(root, "Sender/EANIdentifier")
    receiver = _first_of_letters(root, "Receiver/EANIdentifier")
    seed = (kind, received_envelope, sender, receiver, *(ident for ident, _ in received))
    if refuse is not None and not received:
        level = "envelope"

    emessage = etree.Element(f"{{{namespace}}}Emessage", nsmap={None: namespace})
    envelope = _add(emessage, "Envelope")
    sent = _add(envelope, "Sent")
    _add(sent, "Date", timestamp.strftime("%Y-%m-%d"))
    _add(sent, "Time", timestamp.strftime("%H:%M"))
    _add(envelope, "Identifier", envelope_id or derived_id("K", *seed))
    _add(envelope, "AcknowledgementCode", NOT_REQUESTED)
    receipt = _add(emessage, form.letter_element)
    letter = _add(receipt, "Letter")
    _add(letter, "Identifier", letter_id or derived_id("B", *seed))
    _add(letter, "VersionCode", form.version_codes[0])
    _add(letter, "StatisticalCode", message_type.xml_statistical_code)
    _add(_add(receipt, "Sender"), "EANIdentifier", receiver or UNKNOWN)
    _add(_add(receipt, "Receiver"), "EANIdentifier", sender or UNKNOWN)
    original = _add(receipt, "OriginalEmessage")
    _add(original, "OriginalEnvelopeIdentifier", received_envelope or UNKNOWN)
    _add(_add(original, "OriginalSender"), "EANIdentifier", sender or UNKNOWN)
    _add(_add(original, "OriginalReceiver"), "EANIdentifier", receiver or UNKNOWN)
    if refuse is not None and level == "envelope":
        _refusal(original, *refuse)
    for identifier, version in received[:99]:  # OriginalLetter maxOccurs 99
        original_letter = _add(original, "OriginalLetter")
        _add(original_letter, "OriginalLetterIdentifier", identifier or UNKNOWN)
        _add(original_letter, "OriginalVersionCode", version or UNKNOWN)
        if refuse is not None and level == "letter":
            _refusal(original_letter, *refuse)
    return bytes(
        etree.tostring(emessage, xml_declaration=True, encoding="ISO-8859-1", pretty_print=True)
    )


def _add(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    """A child in the parent's namespace (every element of a letter shares one)."""
    element = etree.SubElement(parent, f"{{{etree.QName(parent).namespace}}}{name}")
    if text is not None:
        element.text = text
    return element


def _refusal(parent: etree._Element, code: str, text: str) -> None:
    _add(parent, "RefuseCode", code)
    refuse_text = _add(parent, "RefuseText")
    lines = text.replace("\r\n", "\n").split("\n") if text else []
    previous: etree._Element | None = None
    for line in lines:
        if previous is None:
            refuse_text.text = (refuse_text.text or "") + line
        else:
            previous.tail = line
        previous = _add(refuse_text, "Break")
    if not lines:
        parent.remove(refuse_text)  # RefuseText is optional; an empty one says nothing


def _receipt_namespace(root: etree._Element, kind: str) -> str:
    received = etree.QName(root).namespace or ""
    forms = {form.namespace for form in catalogue().types[kind].xml}
    return received if received in forms else catalogue().namespaces[FALLBACK_NAMESPACE]


def _first_of_letters(root: etree._Element, path: str) -> str:
    for letter in letters(root):
        value = text_at(letter, path)
        if value:
            return value
    return ""
