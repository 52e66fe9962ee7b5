"""Payload bytes out of an envelope: bounded base64, the character set, what the payload is."""

from __future__ import annotations

import base64
import binascii
import io
import re

from lxml import etree

from engine.formats.envelope.errors import EnvelopeError

VANS_NS = "urn:oio:medcom:vans-envelope:1.0.4"
SBDH_NS = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
FHIR_NS = "http://hl7.org/fhir"

# The hardened parser already refuses a text node over 10 MB (libxml2 without huge_tree),
# which caps base64 content at about 7.5 MB decoded; saying so here keeps the rule visible
# and lets a caller go lower. MedCom letters with attachments stay far below it.
MAX_PAYLOAD_BYTES = 7_500_000

_WHITESPACE = re.compile(rb"\s+")
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*\?>")
_CHARSET = re.compile(r"[a-z0-9._-]{1,40}")


def decode_base64(text: str | None, where: str, limit: int) -> bytes:
    data = _WHITESPACE.sub(b"", (text or "").encode("ascii", "replace"))
    if not data:
        raise EnvelopeError(f"{where} is empty")
    if len(data) // 4 * 3 > limit:
        raise EnvelopeError(f"{where} holds more than {limit} bytes")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError(f"{where} is not valid base64") from None


def readable_xml(payload: bytes, charset: str = "") -> bytes:
    """The payload as the XML parser should see it. A payload's own XML declaration wins.
    Without one, XML means UTF-8, but MedCom's VANS examples carry Latin-1 letters with no
    declaration (VANS has no charset field) and SBDH names the charset in @encoding: so
    the envelope's charset applies, and bytes that are not UTF-8 are read as ISO-8859-1
    (MedCom's OIOXML charset; real UTF-8 is never mistaken for it)."""
    if payload.startswith(b"\xef\xbb\xbf") or _DECLARATION.match(payload[:200]):
        return payload  # a byte-order mark or a declaration says it all
    head = payload.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head != b"<":
        return payload
    declared = charset.strip().lower()
    if declared and not _CHARSET.fullmatch(declared):
        raise EnvelopeError(f"unusable payload charset {charset[:40]!r}")
    if declared in ("", "utf-8", "utf8"):
        try:
            payload.decode("utf-8")
            return payload
        except UnicodeDecodeError:
            declared = "iso-8859-1"
    return f'<?xml version="1.0" encoding="{declared.upper()}"?>\n'.encode("ascii") + payload


def payload_kind(payload: bytes, charset: str = "") -> str:
    head = payload.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        return "none"
    if head[:3] in (b"UNA", b"UNB"):
        return "edifact"
    if head[:3] in (b"MSH", b"FHS", b"BHS"):
        return "hl7v2"
    if head[:1] in (b"{", b"["):
        return "fhir-json" if b'"resourceType"' in head else "json"
    if head[:1] == b"<":
        return _xml_kind(readable_xml(payload, charset))
    return "binary"


def _xml_kind(payload: bytes) -> str:
    """Only the root element is read: the full parse happens once, by whoever reads it."""
    try:
        events = etree.iterparse(
            io.BytesIO(payload),
            events=("start",),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )
        _, root = next(iter(events))
    except (etree.XMLSyntaxError, StopIteration):
        return "xml"  # not well-formed: whoever parses it reports where
    qname = etree.QName(root)
    if qname.namespace == FHIR_NS:
        return "fhir-xml"
    if qname.namespace == VANS_NS and qname.localname == "VANSEnvelope":
        return "vans"
    if qname.localname.lower() == "standardbusinessdocument":
        return "sbdh"
    if qname.localname == "Emessage":
        return "oioxml"
    return "xml"
