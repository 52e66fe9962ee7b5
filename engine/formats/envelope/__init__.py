"""MedCom network envelopes: VANSEnvelope (the VANS network) and SBDH (ehmi/eDelivery).

An envelope is transport, not the message: unwrapping gives the payload exactly as carried
plus the envelope's own facts (ids, EAN/GLN and SOR of both ends, whether a transport
receipt is due), and sniff parses the payload as the message it is.
"""

from __future__ import annotations

from lxml import etree

from engine.formats.envelope.errors import EnvelopeError
from engine.formats.envelope.model import EnvelopeKind, Receipt, Unwrapped
from engine.formats.envelope.payload import (
    MAX_PAYLOAD_BYTES,
    SBDH_NS,
    VANS_NS,
    payload_kind,
    readable_xml,
)
from engine.formats.envelope.sbdh import is_sbdh, unwrap_sbdh
from engine.formats.envelope.vans import unwrap_vans, vans_receipt, wrap_vans


def envelope_kind(root: etree._Element) -> EnvelopeKind | None:
    """Which envelope `root` is, or None for anything else (a letter, a Bundle …)."""
    qname = etree.QName(root)
    if qname.namespace == VANS_NS and qname.localname == "VANSEnvelope":
        return "vans"
    if is_sbdh(root):
        return "sbdh"
    return None


def unwrap(root: etree._Element, *, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> Unwrapped:
    """Unwrap an envelope parsed with engine.formats.xml.parse_xml. Raises EnvelopeError
    for a root that is no envelope Kanal knows, or an envelope without what it must hold."""
    kind = envelope_kind(root)
    if kind == "vans":
        return unwrap_vans(root, max_payload_bytes=max_payload_bytes)
    if kind == "sbdh":
        return unwrap_sbdh(root, max_payload_bytes=max_payload_bytes)
    qname = etree.QName(root)
    raise EnvelopeError(
        f"not a VANSEnvelope or StandardBusinessDocument: root {qname.localname}"
        + (f" in namespace {qname.namespace}" if qname.namespace else "")
    )


__all__ = [
    "MAX_PAYLOAD_BYTES",
    "SBDH_NS",
    "VANS_NS",
    "EnvelopeError",
    "EnvelopeKind",
    "Receipt",
    "Unwrapped",
    "envelope_kind",
    "payload_kind",
    "readable_xml",
    "unwrap",
    "vans_receipt",
    "wrap_vans",
]
