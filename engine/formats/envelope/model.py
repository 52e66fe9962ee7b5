"""What unwrapping a network envelope gives: the payload and the envelope's own facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EnvelopeKind = Literal["vans", "sbdh"]


@dataclass(frozen=True, slots=True)
class Receipt:
    """The envelope is itself a transport receipt: a VANS `Receipt` body or an SBDH
    acknowledgement (`EHMI-ReceiptAcknowledgement` = Response)."""

    status: str  # VANS: positive | negative-message | negative-vans; SBDH: positive | negative
    original_envelope_id: str = ""
    original_message_id: str = ""
    error_code: str = ""
    error_description: str = ""


@dataclass(frozen=True, slots=True)
class Unwrapped:
    kind: EnvelopeKind
    payload: bytes  # exactly as carried (base64-decoded); b"" for a VANS receipt
    # oioxml, fhir-xml, fhir-json, edifact, hl7v2, vans, sbdh, xml, json, binary, none
    payload_kind: str
    envelope_id: str  # VANS EnvelopeIdentifier; SBDH DocumentIdentification/InstanceIdentifier
    message_id: str = ""  # VANS MetaInformation/Identifier; SBDH MESSAGEIDENTIFIER scope
    sender: str = ""  # EAN/GLN (or the CVR/VANS id the envelope names)
    sender_scheme: str = ""  # VANS EndPointType (EAN, CVR, VANS); SBDH EAN for ICD 0088
    sender_sor: str = ""  # SBDH SENDERID scope, when it is a SOR code
    receiver: str = ""
    receiver_scheme: str = ""
    receiver_sor: str = ""
    receipt_requested: bool = False  # a transport receipt (VANS/SBDH acknowledgement) is due
    created: str = ""  # as written: VANS SentDateTime; SBDH CreationDateAndTime
    standard: str = ""  # VANS Document/Format; SBDH DocumentIdentification/Standard
    document_type: str = ""  # VANS Document/Name; SBDH DocumentIdentification/Type
    document_version: str = ""  # VANS Document/Version; SBDH TypeVersion
    statistical_code: str = ""  # VANS Document/Name; SBDH STATISTICALCODE/StatisticalInformation
    cpr: str | None = None  # SBDH PATIENTID scope (VANS names no patient)
    episode_of_care_id: str = ""  # SBDH EPISODEOFCAREIDENTIFIER scope
    payload_mime: str = ""  # SBDH BinaryContent/@mimeType; VANS ServiceTag MCM:MIME
    payload_charset: str = ""  # SBDH BinaryContent/@encoding (VANS declares none)
    receipt: Receipt | None = None
    # SBDH BusinessScope as (Type, InstanceIdentifier) pairs, for everything not lifted above.
    scopes: tuple[tuple[str, str], ...] = ()
    # The VANS MetaInformation element as received: a receipt quotes it as OriginalMessage.
    vans_meta_information: bytes = b""
    # Set by sniff when the payload is itself an envelope (SBDH around a VANSEnvelope).
    inner: Unwrapped | None = None

    def facts(self) -> dict[str, object]:
        """The envelope's facts without the payload, for display (kanal inspect)."""
        facts: dict[str, object] = {
            "kind": self.kind,
            "payload_kind": self.payload_kind,
            "payload_bytes": len(self.payload),
            "envelope_id": self.envelope_id,
            "message_id": self.message_id,
            "sender": self.sender,
            "sender_scheme": self.sender_scheme,
            "sender_sor": self.sender_sor,
            "receiver": self.receiver,
            "receiver_scheme": self.receiver_scheme,
            "receiver_sor": self.receiver_sor,
            "receipt_requested": self.receipt_requested,
            "created": self.created,
            "standard": self.standard,
            "document_type": self.document_type,
            "document_version": self.document_version,
            "statistical_code": self.statistical_code,
            "episode_of_care_id": self.episode_of_care_id,
            "payload_mime": self.payload_mime,
            "payload_charset": self.payload_charset,
        }
        if self.receipt is not None:
            r = self.receipt
            facts["receipt"] = {
                "status": r.status,
                "original_envelope_id": r.original_envelope_id,
                "original_message_id": r.original_message_id,
                "error_code": r.error_code,
                "error_description": r.error_description,
            }
        if self.inner is not None:
            facts["inner"] = self.inner.facts()
        return facts
