"""MedCom VANSEnvelope 1.0.4: read one, wrap a payload in one, build the receipt for one.

Reading is lenient where MedCom's own examples are (EPIC numbers where the schema wants
UUIDs); building is strict: what Kanal writes validates against the schema.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from lxml import etree

from engine.formats.envelope.errors import EnvelopeError
from engine.formats.envelope.model import Receipt, Unwrapped
from engine.formats.envelope.payload import (
    MAX_PAYLOAD_BYTES,
    VANS_NS,
    decode_base64,
    payload_kind,
)
from engine.formats.xml.parser import parse_xml

_V = f"{{{VANS_NS}}}"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ENDPOINT_TYPES = ("EAN", "CVR", "VANS")
FORMATS = ("XML", "EDIFACT", "HL7", "Binary", "Other")
MIME_TAG = "MCM:MIME"  # ServiceTag naming a FHIR payload's MIME type (NetworkEnvelopes 2.1)
_FHIR_MIME = {"fhir-xml": "application/fhir+xml", "fhir-json": "application/fhir+json"}
_RECEIPT_STATUS = {
    "PositiveMessage": "positive",
    "NegativeMessage": "negative-message",
    "NegativeVans": "negative-vans",
}


def unwrap_vans(root: etree._Element, *, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> Unwrapped:
    sender, sender_scheme = _endpoint(root, "SenderID")
    receiver, receiver_scheme = _endpoint(root, "ReceiverID")
    head = Unwrapped(
        kind="vans",
        payload=b"",
        payload_kind="none",
        envelope_id=_required(root, "EnvelopeIdentifier"),
        created=_required(root, "SentDateTime"),
        sender=sender,
        sender_scheme=sender_scheme,
        receiver=receiver,
        receiver_scheme=receiver_scheme,
    )
    message = root.find(f"{_V}Message")
    if message is None:
        receipt = root.find(f"{_V}Receipt")
        if receipt is None:
            raise EnvelopeError("VANSEnvelope has neither Message nor Receipt")
        return replace(head, receipt=_receipt(receipt))  # a receipt is never acknowledged
    meta = message.find(f"{_V}MetaInformation")
    if meta is None:
        raise EnvelopeError("VANSEnvelope/Message has no MetaInformation")
    payload = decode_base64(
        _required(message, "Data", keep_space=True), "VANSEnvelope/Message/Data", max_payload_bytes
    )
    size = _text(meta, "Document/SizeInBytes")
    if size and size != str(len(payload)):
        raise EnvelopeError(
            f"Document/SizeInBytes says {size} but Message/Data holds {len(payload)} bytes"
        )
    tags = {
        t.get("name", ""): (t.text or "").strip()
        for t in meta.iterfind(f"{_V}Transport/{_V}ServiceTag")
    }
    name = _text(meta, "Document/Name")
    return replace(
        head,
        payload=payload,
        payload_kind=payload_kind(payload),
        message_id=_required(meta, "Identifier"),
        # Reliable is VANS's default: only an explicit "unreliable" waives the receipt.
        receipt_requested=_text(meta, "Transport/Type") != "unreliable",
        standard=_text(meta, "Document/Format"),
        document_type=name,
        document_version=_text(meta, "Document/Version"),
        statistical_code=name,
        payload_mime=tags.get(MIME_TAG, ""),
        vans_meta_information=etree.tostring(meta),
    )


def wrap_vans(
    payload: bytes,
    *,
    envelope_id: str | None = None,
    message_id: str | None = None,
    sender: str,
    receiver: str,
    receipt_requested: bool = True,
    name: str,
    version: str = "",
    document_format: str | None = None,
    sender_type: str = "EAN",
    receiver_type: str = "EAN",
    sent: datetime | None = None,
    transform_message: bool = False,
) -> bytes:
    """`payload` in a VANSEnvelope that validates against VANSEnvelope 1.0.4.

    `name` is MedCom's type number / statistical code (XDIS91, MCM:FDIS91#…). The format
    follows the payload unless given: FHIR is "HL7" with ServiceTag MCM:MIME, as MedCom's
    NetworkEnvelopes page requires. A resend of an unchanged message keeps `message_id` and
    takes a new `envelope_id` (reliable messaging); new ids are UUIDs."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise EnvelopeError(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD_BYTES}")
    kind = payload_kind(payload)
    fmt = document_format or _format_for(kind)
    if fmt not in FORMATS:
        raise EnvelopeError(f"Document/Format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    _check_text("Document/Name", name)
    if version:
        _check_text("Document/Version", version)
    root = _head(sender, sender_type, receiver, receiver_type, envelope_id, sent)
    message = _sub(root, "Message")
    meta = _sub(message, "MetaInformation")
    _sub(meta, "Identifier", _uuid("MetaInformation/Identifier", message_id))
    document = _sub(meta, "Document")
    _sub(document, "Format", fmt)
    _sub(document, "Name", name)
    if version:
        _sub(document, "Version", version)
    _sub(document, "SizeInBytes", str(len(payload)))
    transport = _sub(meta, "Transport")
    _sub(transport, "Type", "reliable" if receipt_requested else "unreliable")
    _sub(transport, "TransformMessage", "true" if transform_message else "false")
    if kind in _FHIR_MIME:
        _sub(transport, "ServiceTag", _FHIR_MIME[kind]).set("name", MIME_TAG)
    _sub(message, "Data", base64.b64encode(payload).decode("ascii"))
    return _serialise(root)


def vans_receipt(
    original: Unwrapped,
    *,
    error: str = "",
    error_code: int | None = None,
    negative_vans: bool = False,
    envelope_id: str | None = None,
    sent: datetime | None = None,
) -> bytes:
    """The VANSEnvelopeAcknowledgement for `original`, from its receiver back to its sender:
    PositiveMessage, or NegativeMessage (with `error`), or NegativeVans (a network-level
    refusal). It quotes the original EnvelopeIdentifier and MetaInformation unchanged, so a
    sender that used EPIC numbers gets them back (and the schema refuses those, as it
    refuses the original)."""
    if original.kind != "vans" or not original.vans_meta_information:
        raise EnvelopeError("a VANS receipt answers a VANSEnvelope that carries a Message")
    if negative_vans and not error:
        raise EnvelopeError("a NegativeVans receipt needs an error description")
    root = _head(
        original.receiver,
        original.receiver_scheme,
        original.sender,
        original.sender_scheme,
        envelope_id,
        sent,
    )
    body = "NegativeVans" if negative_vans else "NegativeMessage" if error else "PositiveMessage"
    status = _sub(_sub(root, "Receipt"), body)
    if error:
        if not 1 <= len(error) <= 512:
            raise EnvelopeError("Error/Description must be 1-512 characters")
        problem = _sub(status, "Error")
        if error_code is not None:
            if error_code < 1:
                raise EnvelopeError("Error/Code must be a positive integer")
            _sub(problem, "Code", str(error_code))
        _sub(problem, "Description", error)
    _sub(status, "OriginalEnvelopeIdentifier", original.envelope_id)
    quoted = parse_xml(original.vans_meta_information)
    quoted.tag = f"{_V}OriginalMessage"
    status.append(quoted)
    return _serialise(root)


def _receipt(receipt: etree._Element) -> Receipt:
    body = next((child for child in receipt if isinstance(child.tag, str)), None)
    status = _RECEIPT_STATUS.get(etree.QName(body).localname) if body is not None else None
    if body is None or status is None:
        raise EnvelopeError(
            "VANSEnvelope/Receipt holds no PositiveMessage, NegativeMessage or NegativeVans"
        )
    return Receipt(
        status=status,
        original_envelope_id=_text(body, "OriginalEnvelopeIdentifier"),
        original_message_id=_text(body, "OriginalMessage/Identifier"),
        error_code=_text(body, "Error/Code"),
        error_description=_text(body, "Error/Description"),
    )


def _head(
    sender: str,
    sender_type: str,
    receiver: str,
    receiver_type: str,
    envelope_id: str | None,
    sent: datetime | None,
) -> etree._Element:
    root = etree.Element(f"{_V}VANSEnvelope", nsmap={None: VANS_NS})
    for element, value, kind in (
        ("SenderID", sender, sender_type),
        ("ReceiverID", receiver, receiver_type),
    ):
        if kind not in ENDPOINT_TYPES:
            raise EnvelopeError(f"{element}/@EndPointType must be EAN, CVR or VANS, not {kind!r}")
        if not 1 <= len(value) <= 18 or value != value.strip():
            raise EnvelopeError(f"{element} must be 1-18 characters without surrounding spaces")
        _sub(root, element, value).set("EndPointType", kind)
    _sub(root, "EnvelopeIdentifier", _uuid("EnvelopeIdentifier", envelope_id))
    moment = sent or datetime.now(UTC)
    _sub(root, "SentDateTime", moment.replace(microsecond=0).isoformat())
    return root


def _format_for(kind: str) -> str:
    if kind in ("fhir-xml", "fhir-json", "hl7v2"):
        return "HL7"  # "Standard type" HL7 for every MedCom FHIR standard
    if kind == "edifact":
        return "EDIFACT"
    if kind in ("oioxml", "xml", "vans", "sbdh"):
        return "XML"
    return "Binary"


def _uuid(element: str, value: str | None) -> str:
    if value is None:
        return str(uuid.uuid4())
    if not _UUID.fullmatch(value):
        raise EnvelopeError(f"{element} must be a UUID, not {value[:40]!r}")
    return value


def _check_text(element: str, value: str) -> None:
    if not 1 <= len(value) <= 255:
        raise EnvelopeError(f"{element} must be 1-255 characters")


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, f"{_V}{name}")
    if text is not None:
        child.text = text
    return child


def _endpoint(root: etree._Element, name: str) -> tuple[str, str]:
    element = root.find(f"{_V}{name}")
    value = (element.text or "").strip() if element is not None else ""
    if element is None or not value:
        raise EnvelopeError(f"VANSEnvelope/{name} is missing or empty")
    return value, element.get("EndPointType", "")


def _required(parent: etree._Element, name: str, *, keep_space: bool = False) -> str:
    element = parent.find(f"{_V}{name}")
    text = str(element.text or "") if element is not None else ""
    if not text.strip():
        steps = [etree.QName(e).localname for e in (parent, *parent.iterancestors())]
        raise EnvelopeError(f"{'/'.join(reversed(steps))}/{name} is missing or empty")
    return text if keep_space else text.strip()


def _text(parent: etree._Element, path: str) -> str:
    found = parent.find("/".join(f"{_V}{step}" for step in path.split("/")))
    return (found.text or "").strip() if found is not None else ""


def _serialise(root: etree._Element) -> bytes:
    text: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return text
