"""Recognise a message's wire format and parse it into metadata, once, at receipt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from engine.formats import edifact, fhir, hl7v2, xml
from engine.formats.metadata import Metadata


@dataclass(slots=True)
class Parsed:
    raw: bytes
    meta: Metadata
    parsed: Any = None  # the format's own parsed object (e.g. HL7Message)
    error: str | None = None
    error_code: str = ""


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


def _parse_xml(raw: bytes) -> Parsed:
    try:
        root = xml.parse_xml(raw)
    except xml.XMLError as exc:
        return Parsed(raw, Metadata(format="xml"), None, str(exc), "SYN")
    if etree.QName(root).namespace == fhir.FHIR_NS:
        return _parse_fhir(raw)
    return Parsed(raw, xml.extract_metadata(root, xml.declared_encoding(root)), root)


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
