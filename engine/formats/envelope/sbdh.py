"""StandardBusinessDocument (MedCom's ehmiSBDH, and Trifork's SBDH in front of the NSP
FHIR gateway): the header's facts and the document it carries.

Read as published, not as the schema would have it: BinaryContent appears in the SBDH
namespace (as ehmiStandardBusinessDocumentHeader.xsd declares it), in the PEPPOL envelope
namespace (MedCom's own ehmi samples) and with MIME types outside the XSD's list; the root
may be `standardBusinessDocument` without a namespace (Trifork's JAXB output).
"""

from __future__ import annotations

from lxml import etree

from engine.formats.envelope.errors import EnvelopeError
from engine.formats.envelope.model import Receipt, Unwrapped
from engine.formats.envelope.payload import (
    MAX_PAYLOAD_BYTES,
    SBDH_NS,
    decode_base64,
    payload_kind,
)
from engine.standards.medcom import check_sor

_S = f"{{{SBDH_NS}}}"
GLN_ICD = "0088"  # ISO 6523 code for GS1 GLN (EAN location numbers): "0088:5790000121526"
CPR_OID = "1.2.208.176.1.2"
# The receipt-request scope: MedCom's ehmi name, and the name in Region H's samples.
RECEIPT_SCOPES = ("EHMI-ReceiptAcknowledgement", "MedCom_SBDH_ReceiptAcknowledgement")
STATISTICAL_SCOPES = ("STATISTICALCODE", "StatisticalInformation")
ACKNOWLEDGEMENT_STANDARDS = ("ehmisbdh-acknowledgement", "ebbp-signals")


def is_sbdh(root: etree._Element) -> bool:
    qname = etree.QName(root)
    return (
        qname.localname.lower() == "standardbusinessdocument"
        and qname.namespace in (SBDH_NS, None)
        and root.find(f"{_S}StandardBusinessDocumentHeader") is not None
    )


def unwrap_sbdh(root: etree._Element, *, max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> Unwrapped:
    header = root.find(f"{_S}StandardBusinessDocumentHeader")
    if header is None:
        raise EnvelopeError("StandardBusinessDocument has no StandardBusinessDocumentHeader")
    sender, sender_scheme = _partner(header, "Sender")
    receiver, receiver_scheme = _partner(header, "Receiver")
    identification = header.find(f"{_S}DocumentIdentification")
    if identification is None:
        raise EnvelopeError("StandardBusinessDocumentHeader has no DocumentIdentification")
    instance = _text(identification, "InstanceIdentifier")
    if not instance:
        raise EnvelopeError("DocumentIdentification/InstanceIdentifier is missing or empty")
    scopes = tuple(
        (_text(scope, "Type"), _text(scope, "InstanceIdentifier"))
        for scope in header.iterfind(f"{_S}BusinessScope/{_S}Scope")
    )
    standard = _text(identification, "Standard")
    document_type = _text(identification, "Type")
    receipt_scope = _scope(scopes, *RECEIPT_SCOPES)
    payload, mime, charset = _payload(root, max_payload_bytes)
    return Unwrapped(
        kind="sbdh",
        payload=payload,
        payload_kind=payload_kind(payload, charset),
        envelope_id=instance,
        message_id=_scope(scopes, "MESSAGEIDENTIFIER"),
        sender=sender,
        sender_scheme=sender_scheme,
        sender_sor=_sor(_scope(scopes, "SENDERID")),
        receiver=receiver,
        receiver_scheme=receiver_scheme,
        receiver_sor=_sor(_scope(scopes, "RECEIVERID")),
        receipt_requested=receipt_scope == "Request",
        created=_text(identification, "CreationDateAndTime"),
        standard=standard,
        document_type=document_type,
        document_version=_text(identification, "TypeVersion"),
        statistical_code=_scope(scopes, *STATISTICAL_SCOPES),
        cpr=_cpr(_scope(scopes, "PATIENTID")),
        episode_of_care_id=_scope(scopes, "EPISODEOFCAREIDENTIFIER"),
        payload_mime=mime,
        payload_charset=charset,
        receipt=(
            Receipt(
                status="negative" if document_type.endswith("Exception") else "positive",
                original_envelope_id=_scope(scopes, "ORIGINALENVELOPEIDENTIFIER"),
                original_message_id=_scope(scopes, "ORIGINALMESSAGEIDENTIFIER"),
            )
            if receipt_scope == "Response" or standard in ACKNOWLEDGEMENT_STANDARDS
            else None
        ),
        scopes=scopes,
    )


def _payload(root: etree._Element, limit: int) -> tuple[bytes, str, str]:
    """The document after the header: BinaryContent (base64, in whichever namespace), or
    an XML document written inline, as plain SBDH allows."""
    content = next(
        (
            child
            for child in root
            if isinstance(child.tag, str)
            and etree.QName(child).localname != "StandardBusinessDocumentHeader"
        ),
        None,
    )
    if content is None:
        raise EnvelopeError("StandardBusinessDocument carries no document after its header")
    if etree.QName(content).localname != "BinaryContent":
        return _inline(content), "", ""
    mime, charset = content.get("mimeType", ""), content.get("encoding", "")
    inner = next((child for child in content if isinstance(child.tag, str)), None)
    if inner is not None:
        return _inline(inner), mime, ""
    return decode_base64(content.text, "BinaryContent", limit), mime, charset


def _inline(element: etree._Element) -> bytes:
    text: bytes = etree.tostring(element, encoding="UTF-8", xml_declaration=True)
    return text


def _partner(header: etree._Element, name: str) -> tuple[str, str]:
    """(id, scheme): "0088:5790000121526" is GLN 5790000121526, scheme EAN (as VANS names
    it); another ISO 6523 code is kept as the scheme."""
    value = _text(header, f"{name}/Identifier")
    if not value:
        raise EnvelopeError(f"StandardBusinessDocumentHeader/{name}/Identifier is missing")
    icd, colon, rest = value.partition(":")
    if not colon:
        return value, ""
    return rest, "EAN" if icd == GLN_ICD else icd


def _scope(scopes: tuple[tuple[str, str], ...], *types: str) -> str:
    """The first non-empty InstanceIdentifier of a scope of one of `types`."""
    return next((value for kind, value in scopes if kind in types and value), "")


def _sor(value: str) -> str:
    """Only a real SOR code: Region H's samples write NO-SOR-UNIT-FOUND-FOR-EAN-… and
    Trifork's write 7-digit department numbers under the same scope."""
    return value if value and not check_sor(value) else ""


def _cpr(value: str) -> str | None:
    """PATIENTID is a bare CPR (ehmi) or an HL7 CX with the CPR OID as authority (Trifork)."""
    number, _, rest = value.partition("^")
    authority = rest.rsplit("^", 1)[-1] if rest else ""
    if authority and CPR_OID not in authority:
        return None
    return number if len(number) == 10 and number.isascii() and number.isdigit() else None


def _text(parent: etree._Element, path: str) -> str:
    found = parent.find("/".join(f"{_S}{step}" for step in path.split("/")))
    return (found.text or "").strip() if found is not None else ""
