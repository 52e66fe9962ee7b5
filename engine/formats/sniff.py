"""Recognise a message's wire format and parse it into metadata, once, at receipt."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lxml import etree

from engine.formats import edifact, envelope, fhir, hl7v2, xml
from engine.formats.envelope import Unwrapped
from engine.formats.metadata import Metadata

# SBDH around a VANSEnvelope around the letter is the deepest MedCom's material goes.
MAX_ENVELOPE_NESTING = 3


@dataclass(slots=True)
class Parsed:
    raw: bytes
    meta: Metadata
    parsed: Any = None  # the format's own parsed object (e.g. HL7Message)
    error: str | None = None
    error_code: str = ""
    # The network envelope (VANS, SBDH) the message came in; meta and parsed are the payload's.
    envelope: Unwrapped | None = None


def sniff(raw: bytes) -> str:
    head = raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:3]
    if head in (b"MSH", b"FHS", b"BHS"):
        return "hl7v2"
    if head in (b"UNA", b"UNB"):
        return "edifact"
    if head.startswith(b"<"):
        return "xml"
    if head.startswith((b"{", b"[")):
        return "json"
    return "unknown"


def parse_messages(raw: bytes) -> list[Parsed]:
    """One entry per message in the input (an HL7 batch yields several)."""
    kind = sniff(raw)
    if kind == "xml":
        return [_parse_xml(raw)]
    if kind == "json":
        return [_parse_fhir(raw)]
    if kind == "edifact":
        return [_parse_edifact(raw)]
    if kind != "hl7v2":
        return [_unsupported(raw, kind)]
    try:
        parts = hl7v2.split_batch(raw)
    except hl7v2.HL7Error as exc:
        return [Parsed(raw, Metadata(format="hl7v2"), None, exc.reason, exc.code)]
    if not parts:
        return [
            Parsed(raw, Metadata(format="hl7v2"), None, "HL7 batch contains no messages", "100")
        ]
    return [_parse_hl7(part) for part in parts]


def _parse_hl7(raw: bytes) -> Parsed:
    try:
        message = hl7v2.parse(raw)
    except hl7v2.HL7Error as exc:
        return Parsed(raw, Metadata(format="hl7v2"), None, exc.reason, exc.code)
    return Parsed(raw, hl7v2.extract_metadata(message), message)


def _parse_xml(raw: bytes, depth: int = 0) -> Parsed:
    try:
        root = xml.parse_xml(raw)
    except xml.XMLError as exc:
        return Parsed(raw, Metadata(format="xml"), None, str(exc), "SYN")
    if etree.QName(root).namespace == fhir.FHIR_NS:
        return _parse_fhir(raw)
    if envelope.envelope_kind(root) is not None:
        return _parse_envelope(raw, root, depth)
    return Parsed(raw, xml.extract_metadata(root, xml.declared_encoding(root)), root)


def _parse_envelope(raw: bytes, root: etree._Element, depth: int) -> Parsed:
    """The payload parsed as the message it is, with the envelope's facts filled in where
    the payload has none. The payload's own ids win: MedCom receipts (XCTL03, CTL01, FHIR
    Acknowledgement) quote the letter's envelope id, not the network envelope's, which
    stays on Parsed.envelope for the transport receipt."""
    try:
        outer = envelope.unwrap(root)
    except envelope.EnvelopeError as exc:
        return Parsed(raw, Metadata(format="xml"), None, exc.reason, "SYN")
    if depth >= MAX_ENVELOPE_NESTING:
        reason = f"network envelopes nested more than {MAX_ENVELOPE_NESTING} deep"
        return Parsed(raw, _with_envelope(Metadata(format="xml"), outer), None, reason, "SYN")
    inner = _parse_payload(outer, depth + 1)
    unwrapped = replace(outer, inner=inner.envelope) if inner.envelope else outer
    error = f"{outer.kind} envelope payload: {inner.error}" if inner.error else None
    meta = _with_envelope(inner.meta, unwrapped)
    return Parsed(raw, meta, inner.parsed, error, inner.error_code, unwrapped)


def _parse_payload(outer: Unwrapped, depth: int) -> Parsed:
    payload, kind = outer.payload, outer.payload_kind
    if kind == "none" and outer.receipt is not None:  # a VANS receipt carries no message
        meta = Metadata(format=outer.kind, type=f"receipt:{outer.receipt.status}")
        meta.receipt_requested = False
        return Parsed(payload, meta)
    if kind == "edifact":
        return _parse_edifact(payload)
    if kind == "hl7v2":
        return _parse_hl7(payload)
    if kind in ("fhir-json", "json"):
        return _parse_fhir(payload)
    if kind in ("oioxml", "fhir-xml", "vans", "sbdh", "xml"):
        return _parse_xml(envelope.readable_xml(payload, outer.payload_charset), depth)
    reason = f"the envelope carries {kind} content, not a message this engine reads"
    return Parsed(payload, Metadata(format=kind), None, reason, "200")


def _with_envelope(meta: Metadata, unwrapped: Unwrapped) -> Metadata:
    """Fill what the payload left empty from the envelope (innermost envelope first).
    SOR codes are the envelope's where it has them: they address the network delivery
    (an acknowledgement's envelope goes back while its payload is the original letter)."""
    meta.envelope_id = meta.envelope_id or unwrapped.envelope_id
    meta.control_id = meta.control_id or unwrapped.message_id or unwrapped.envelope_id
    meta.type = meta.type or unwrapped.statistical_code or unwrapped.document_type
    meta.version = meta.version or unwrapped.document_version
    meta.sender = meta.sender or unwrapped.sender
    meta.receiver = meta.receiver or unwrapped.receiver
    meta.sender_sor = unwrapped.sender_sor or meta.sender_sor
    meta.receiver_sor = unwrapped.receiver_sor or meta.receiver_sor
    meta.episode_of_care_id = meta.episode_of_care_id or unwrapped.episode_of_care_id
    if meta.cpr is None and unwrapped.cpr:
        meta.cpr = unwrapped.cpr
        meta.patient_ids = [unwrapped.cpr, *meta.patient_ids]
    return meta


def _parse_edifact(raw: bytes) -> Parsed:
    try:
        interchange = edifact.parse_edifact(raw)
    except edifact.EdifactError as exc:
        return Parsed(raw, Metadata(format="edifact"), None, exc.reason, exc.code)
    return Parsed(raw, edifact.extract_metadata(interchange), interchange)


def _parse_fhir(raw: bytes) -> Parsed:
    try:
        resource = fhir.parse_fhir(raw)
    except fhir.FHIRError as exc:
        return Parsed(raw, Metadata(format="fhir"), None, str(exc), "SYN")
    return Parsed(raw, fhir.extract_metadata(resource), resource)


def _unsupported(raw: bytes, kind: str) -> Parsed:
    if not raw.strip():
        reason = "empty message"
    elif kind == "unknown":
        reason = "unrecognised format: expected HL7 v2 (MSH), EDIFACT (UNA/UNB), XML or FHIR JSON"
    else:
        reason = f"{kind} messages are not accepted by this engine yet"
    return Parsed(raw, Metadata(format=kind), None, reason, "200")
