"""MedCom network envelopes (VANSEnvelope, SBDH): every published example unwraps with the
facts it really carries, what Kanal wraps validates against the VANS schema, and a
message in an envelope is parsed as the message it carries."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, SHARED
from lxml import etree
from typer.testing import CliRunner

from engine.cli import app
from engine.formats.envelope import (
    EnvelopeError,
    Unwrapped,
    envelope_kind,
    unwrap,
    vans_receipt,
    wrap_vans,
)
from engine.formats.sniff import parse_messages
from engine.formats.xml import parse_xml

MEDCOM = SHARED / "medcom"
EXAMPLES = MEDCOM / "xml"
VANS_XSD = MEDCOM / "xsd" / "vansenvelope" / "VANSEnvelope-1.0.4.extracted.xsd"
UUID_PATTERN = "[aA-fF0-9]{8}-[aA-fF0-9]{4}-[aA-fF0-9]{4}-[aA-fF0-9]{4}-[aA-fF0-9]{12}"
ENVELOPE_ID = "0f4c2b8e-3c1d-4a5e-9f60-7b8a9c0d1e2f"
MESSAGE_ID = "7d6e5f40-1a2b-4c3d-8e9f-a0b1c2d3e4f5"
SENT = datetime(2025, 3, 20, 11, 36, tzinfo=UTC)

# (kind, envelope id, message id, sender, receiver, sender SOR, receiver SOR,
#  transport receipt requested, payload kind)
Facts = tuple[str, str, str, str, str, str, str, bool, str]
# (meta.type, meta.control_id, meta.envelope_id, meta.cpr)
Letter = tuple[str, str, str, str | None]

HOSPITAL, MUNICIPALITY = "5790002515200", "5790002508226"  # Region H's samples
EHMI_A, EHMI_B = "5790000121526", "5790000201389"  # MedCom's ehmi samples, Trifork's misc
SOR_A, SOR_B = "8851000016006", "263001000016001"
RH_SOR = "1133781000016001"  # Region H's SENDERID; its RECEIVERID is NO-SOR-UNIT-FOUND-…
HCO_BUNDLE = "401cbc36-db1e-4fe0-bf90-6df331dde179"
HCO_HEADER = "489de4f2-0d8d-4de2-a7ce-ccb93568799f"
EHMI_INSTANCE = "9a6ff822-08de-5a6f-9670-9fa4b9d2f0dc"
EHMI_MESSAGE = "f06c1ac8-6096-5178-a380-2831d2456986"
EHMI_ACK = "c8792b06-eaa3-48db-a815-3e58b2086ab2"
EHMI_ACK_MESSAGE = "8977c47b-8d55-4a6a-81ff-dcd3dc2b3871"
XREF01_IN_EHMI: Letter = ("REF01", "HnvBrv5678", "HnvKuv1234", "2509479989")

# Every envelope among the examples, with what it says and what its letter says.
ENVELOPES: dict[str, tuple[Facts, Letter]] = {
    "vansenvelope/XDIS18_SBDH_Payload.xml": (
        ("vans", "EPIC394319568", "EPIC394319568", HOSPITAL, MUNICIPALITY, "", "", True, "oioxml"),
        # CPR 1111111111 is in the letter, in the other municipality namespace (see below)
        ("XDIS18", "EPIC394319568", "EPIC394319568", "1111111111"),
    ),
    "vansenvelope/XDIS21_SBDH_Payload.xml": (
        ("vans", "EPIC394310891", "EPIC394310891", HOSPITAL, MUNICIPALITY, "", "", True, "oioxml"),
        ("XDIS21", "EPIC394310891", "EPIC394310891", "1111111111"),
    ),
    "sbdh/trifork_regionh/XDIS13_SBDH.xml": (
        ("sbdh", "5790002515200:EPIC394362123", "5790002515200:EPIC394362123",
         HOSPITAL, MUNICIPALITY, RH_SOR, "", True, "oioxml"),
        ("XDIS13", "EPIC394362123", "EPIC394362123", "1111111111"),
    ),
    "sbdh/trifork_regionh/XDIS17_SBDH.xml": (
        ("sbdh", "5790002515200:EPIC394310433", "5790002515200:EPIC394310433",
         HOSPITAL, MUNICIPALITY, RH_SOR, "", True, "oioxml"),
        ("XDIS17", "EPIC394310433", "EPIC394310433", "1111111111"),
    ),
    "sbdh/trifork_regionh/XDIS18_SBDH.xml": (
        ("sbdh", "5790002515200:EPIC394319568", "5790002515200:EPIC394319568",
         HOSPITAL, MUNICIPALITY, RH_SOR, "", True, "vans"),
        # The CPR comes from the SBDH's PATIENTID: the letter's own is not read (see below).
        ("XDIS18", "EPIC394319568", "EPIC394319568", "1111111111"),
    ),
    "sbdh/trifork_regionh/XDIS20_SBDH.xml": (
        ("sbdh", "5790002515200:EPIC394363364", "5790002515200:EPIC394363364",
         HOSPITAL, MUNICIPALITY, RH_SOR, "", True, "oioxml"),
        ("XDIS20", "EPIC394363364", "EPIC394363364", "1111111111"),
    ),
    "sbdh/trifork_regionh/XDIS21_SBDH.xml": (
        ("sbdh", "5790002515200:EPIC394310891", "5790002515200:EPIC394310891",
         HOSPITAL, MUNICIPALITY, RH_SOR, "", True, "vans"),
        ("XDIS21", "EPIC394310891", "EPIC394310891", "1111111111"),
    ),
    "sbdh/ehmi/ehmisbdh_fullsample.xml": (
        ("sbdh", EHMI_INSTANCE, EHMI_MESSAGE, EHMI_A, EHMI_B, SOR_A, SOR_B, True, "fhir-xml"),
        ("homecareobservation-message", HCO_HEADER, HCO_BUNDLE, "2509479989"),
    ),
    "sbdh/ehmi/ehmiSBDH_9a6ff822-08de-5a6f-9670-9fa4b9d2f0dc_HomeCareObservation_XDS_full.xml": (
        ("sbdh", EHMI_INSTANCE, EHMI_MESSAGE, EHMI_A, EHMI_B, SOR_A, SOR_B, True, "fhir-xml"),
        ("homecareobservation-message", HCO_HEADER, HCO_BUNDLE, "2509479989"),
    ),
    # MedCom's 2025 samples say application/fhir+xml but carry an OIOXML XREF01.
    "sbdh/ehmi/20250429_ehmisbdh_sample.xml": (
        ("sbdh", EHMI_INSTANCE, EHMI_MESSAGE, EHMI_A, EHMI_B, SOR_A, SOR_B, True, "oioxml"),
        XREF01_IN_EHMI,
    ),
    "sbdh/ehmi/20250429_ehmisbdh_ack_sample.xml": (
        ("sbdh", EHMI_ACK, EHMI_ACK_MESSAGE, EHMI_A, EHMI_B, SOR_B, SOR_A, True, "oioxml"),
        XREF01_IN_EHMI,
    ),
    "sbdh/ehmi/ehmisbdh_fullsample_ack.xml": (
        ("sbdh", EHMI_ACK, EHMI_ACK_MESSAGE, EHMI_A, EHMI_B, SOR_B, SOR_A, True, "oioxml"),
        XREF01_IN_EHMI,
    ),
    "sbdh/ehmi/ehmiSBDH_9a6ff822-08de-5a6f-9670-9fa4b9d2f0dc_ReceiptAcknowledgement_full.xml": (
        ("sbdh", EHMI_ACK, EHMI_ACK, "5790000127092", "5790000123117",
         "52581000016005", "1144561000016002", False, "xml"),
        ("ReceiptAcknowledgement", EHMI_ACK, EHMI_ACK, None),
    ),
    # Its ebbp signal is not well-formed (typographic quotes around an attribute value).
    "sbdh/ehmi/ehmisbdh_fullsample_sbdhack.xml": (
        ("sbdh", EHMI_ACK, EHMI_ACK_MESSAGE, EHMI_B, EHMI_A, SOR_B, SOR_A, False, "xml"),
        ("EHMI-ReceiptAcknowledgement", EHMI_ACK_MESSAGE, EHMI_ACK, None),
    ),
    "sbdh/trifork_misc/SBDH.konfiguration.20201106.XREF01.eksempel.xml": (
        ("sbdh", EHMI_INSTANCE, "", EHMI_A, EHMI_B, "", "", False, "oioxml"),
        XREF01_IN_EHMI,
    ),
    "sbdh/trifork_misc/SBDH.konfiguration.20201106.XREF01.eksempel.fhir-json.xml": (
        ("sbdh", EHMI_INSTANCE, "", EHMI_A, EHMI_B, "", "", False, "fhir-json"),
        ("Bundle", EHMI_INSTANCE, EHMI_INSTANCE, None),
    ),
    # Trifork's SENDERID/RECEIVERID "Sorkode" 1170101/1170102 are 7 digits: not SOR codes.
    "sbdh/trifork_misc/full-sbdh-example.xml": (
        ("sbdh", "8a480b16-f3c0-4c13-8f00-71100bc391cb", "3252eb3e-2734-47db-a2ba-cc77a0f6789b",
         EHMI_A, EHMI_B, "", "", False, "fhir-xml"),
        ("XREF01", "3252eb3e-2734-47db-a2ba-cc77a0f6789b",
         "8a480b16-f3c0-4c13-8f00-71100bc391cb", "0506504003"),
    ),
    "sbdh/trifork_misc/receipt.xml": (
        ("sbdh", "84672dee-7c67-49aa-aade-734cfd3998ed", "672fceab-6acd-421e-a2b8-0c8d5f58e2b9",
         EHMI_A, EHMI_B, "", "", False, "fhir-xml"),
        ("XREF01", "672fceab-6acd-421e-a2b8-0c8d5f58e2b9",
         "84672dee-7c67-49aa-aade-734cfd3998ed", "0506504003"),
    ),
}  # fmt: skip

# Payloads that do not read as a valid message, as published.
PAYLOAD_ERRORS = {
    "sbdh/ehmi/ehmisbdh_fullsample_sbdhack.xml": "sbdh envelope payload: not well-formed XML "
    "at line 14",
    # A toy Bundle: a Communication without status or any MessageHeader.
    "sbdh/trifork_misc/full-sbdh-example.xml": "sbdh envelope payload: not a valid FHIR Bundle",
    "sbdh/trifork_misc/receipt.xml": "sbdh envelope payload: not a valid FHIR Bundle",
}
NOT_ENVELOPES = {  # letters and Bundles that sit beside the envelopes
    "regionh_samples/XDIS13_SBDH_Payload.xml": "XDIS13",
    "regionh_samples/XDIS17_SBDH_Payload.xml": "XDIS17",
    "regionh_samples/XDIS18_SBDH_Payload_VANS.xml": "XDIS18",
    "regionh_samples/XDIS20_SBDH_Payload.xml": "XDIS20",
    "regionh_samples/XDIS21_SBDH_Payload_VANS.xml": "XDIS21",
    "sbdh/ehmi/ehmiMessage.xml": "homecareobservation-message",
    "sbdh/ehmi/ehmiMessage_Ack.xml": "acknowledgement-message",
}
NOT_WELL_FORMED = {"sbdh/trifork_misc/invalid-sbdh.xml": "line 7"}  # </Senderfff>


def _example_files() -> set[str]:
    folders = [EXAMPLES / "vansenvelope", EXAMPLES / "sbdh", EXAMPLES / "regionh_samples"]
    return {p.relative_to(EXAMPLES).as_posix() for f in folders for p in f.rglob("*.xml")}


def _unwrap_file(name: str) -> Unwrapped:
    return unwrap(parse_xml((EXAMPLES / name).read_bytes()))


def _vans_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(VANS_XSD)))


def _schema_errors(document: bytes) -> list[Any]:
    schema = _vans_schema()
    if schema.validate(etree.fromstring(document)):
        return []
    return list(schema.error_log)


def test_every_example_file_is_accounted_for():
    known = {*ENVELOPES, *NOT_ENVELOPES, *NOT_WELL_FORMED}
    assert _example_files() == known


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_every_envelope_unwraps_with_its_facts(name):
    facts, _ = ENVELOPES[name]
    kind, envelope_id, message_id, sender, receiver, sender_sor, receiver_sor, ack, payload = facts
    unwrapped = _unwrap_file(name)
    assert (unwrapped.kind, unwrapped.envelope_id, unwrapped.message_id) == (
        kind,
        envelope_id,
        message_id,
    )
    assert (unwrapped.sender, unwrapped.receiver) == (sender, receiver)
    assert (unwrapped.sender_scheme, unwrapped.receiver_scheme) == ("EAN", "EAN")
    assert (unwrapped.sender_sor, unwrapped.receiver_sor) == (sender_sor, receiver_sor)
    assert unwrapped.receipt_requested is ack
    assert unwrapped.payload_kind == payload


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_every_envelope_is_parsed_as_the_letter_it_carries(name):
    facts, (statistical, control_id, envelope_id, cpr) = ENVELOPES[name]
    [parsed] = parse_messages((EXAMPLES / name).read_bytes())
    assert parsed.envelope is not None and parsed.envelope.kind == facts[0]
    expected_error = PAYLOAD_ERRORS.get(name)
    if expected_error is None:
        assert parsed.error is None
    else:  # the envelope is fine, what it carries is not: still routed facts, and an error
        assert parsed.error is not None and parsed.error.startswith(expected_error)
    meta = parsed.meta
    assert (meta.type, meta.control_id, meta.envelope_id, meta.cpr) == (
        statistical,
        control_id,
        envelope_id,
        cpr,
    )
    # SOR codes only an envelope names reach the metadata.
    assert (meta.sender_sor, meta.receiver_sor) == (facts[5], facts[6])


@pytest.mark.parametrize("name", sorted(NOT_ENVELOPES))
def test_letters_and_bundles_beside_the_envelopes_are_not_envelopes(name):
    root = parse_xml((EXAMPLES / name).read_bytes())
    assert envelope_kind(root) is None
    with pytest.raises(EnvelopeError, match="not a VANSEnvelope or StandardBusinessDocument"):
        unwrap(root)
    [parsed] = parse_messages((EXAMPLES / name).read_bytes())
    assert parsed.envelope is None and parsed.meta.type == NOT_ENVELOPES[name]


def test_a_broken_sbdh_is_refused_with_its_position():
    for name, where in NOT_WELL_FORMED.items():
        [parsed] = parse_messages((EXAMPLES / name).read_bytes())
        assert parsed.error is not None and where in parsed.error and parsed.envelope is None


def test_vans_examples_fail_the_schema_exactly_on_their_epic_identifiers():
    for name in ("XDIS18_SBDH_Payload.xml", "XDIS21_SBDH_Payload.xml"):
        errors = _schema_errors((EXAMPLES / "vansenvelope" / name).read_bytes())
        assert [etree.QName(e.message.split("'")[1]).localname for e in errors] == [
            "EnvelopeIdentifier",
            "Identifier",  # Message/MetaInformation/Identifier
        ]
        assert all("EPIC3943" in e.message and UUID_PATTERN in e.message for e in errors)


def test_vans_example_facts_in_detail():
    unwrapped = _unwrap_file("vansenvelope/XDIS18_SBDH_Payload.xml")
    assert unwrapped.created == "2021-06-24T07:34:00"
    assert (unwrapped.standard, unwrapped.document_type, unwrapped.document_version) == (
        "XML",
        "XDIS18",
        "XD1834C",
    )
    assert unwrapped.statistical_code == "XDIS18" and len(unwrapped.payload) == 10906
    # The letter inside is Latin-1 without an XML declaration (VANS names no charset).
    assert "København".encode("latin-1") in unwrapped.payload
    [parsed] = parse_messages((EXAMPLES / "vansenvelope/XDIS18_SBDH_Payload.xml").read_bytes())
    assert parsed.meta.charset == "iso-8859-1"
    assert (parsed.meta.sender, parsed.meta.receiver, parsed.meta.version) == (
        HOSPITAL,
        MUNICIPALITY,
        "XD1834C",
    )


def test_the_cpr_inside_a_municipality_letter_in_a_vans_envelope():
    # The letter mixes urn:oio:medcom:municipality:1.0.0 and 1.0.3: metadata is read by
    # local names, so Patient is found whatever its namespace
    [parsed] = parse_messages((EXAMPLES / "vansenvelope/XDIS18_SBDH_Payload.xml").read_bytes())
    assert parsed.meta.cpr == "1111111111"


def test_sbdh_example_facts_in_detail():
    unwrapped = _unwrap_file("sbdh/trifork_regionh/XDIS13_SBDH.xml")
    assert unwrapped.created == "2021-06-24T10:05:00"
    assert unwrapped.standard == "urn:dk:healthcare:medcom:oioxml:schema:xsd:BookingConfirmation"
    assert (unwrapped.document_type, unwrapped.document_version) == ("XDIS13", "XD1333L")
    assert (unwrapped.statistical_code, unwrapped.cpr) == ("XDIS13", "1111111111")
    assert unwrapped.episode_of_care_id == "045F5F8D-BE2E-4C57-8B21-05E750148D48"
    assert (unwrapped.payload_mime, unwrapped.payload_charset) == ("text/xml", "ISO-8859-1")
    assert ("RECEIVERID", "NO-SOR-UNIT-FOUND-FOR-EAN-5790002508226") in unwrapped.scopes
    [parsed] = parse_messages((EXAMPLES / "sbdh/trifork_regionh/XDIS13_SBDH.xml").read_bytes())
    assert parsed.meta.episode_of_care_id == "045F5F8D-BE2E-4C57-8B21-05E750148D48"
    assert parsed.meta.charset == "iso-8859-1"

    ehmi = _unwrap_file("sbdh/ehmi/ehmisbdh_fullsample.xml")
    assert (ehmi.standard, ehmi.document_type, ehmi.document_version) == (
        "homecareobservation-message",
        "Bundle",
        "1.2",
    )
    assert ehmi.statistical_code == "MCM:homecareobservation-message"
    assert ehmi.created == "2025-04-01T16:19:00+01:00" and ehmi.cpr == "0101010227"
    # The SBDH names another patient than the Bundle it carries; the Bundle's wins.
    [parsed] = parse_messages((EXAMPLES / "sbdh/ehmi/ehmisbdh_fullsample.xml").read_bytes())
    assert parsed.meta.cpr == "2509479989"


def test_sbdh_around_a_vans_envelope_around_a_letter():
    [parsed] = parse_messages((EXAMPLES / "sbdh/trifork_regionh/XDIS21_SBDH.xml").read_bytes())
    assert parsed.error is None and parsed.envelope is not None
    inner = parsed.envelope.inner
    assert inner is not None and inner.kind == "vans" and inner.envelope_id == "EPIC394310891"
    assert inner.payload_kind == "oioxml" and inner.inner is None
    # The SBDH's SOR and episode of care reach the letter's metadata through both envelopes.
    assert parsed.meta.sender_sor == RH_SOR
    assert parsed.meta.episode_of_care_id == "00000000-0000-E522-BE6A-484044BBF144"


def test_sbdh_receipt_acknowledgements():
    name = "sbdh/ehmi/ehmiSBDH_9a6ff822-08de-5a6f-9670-9fa4b9d2f0dc_ReceiptAcknowledgement_full.xml"
    receipt = _unwrap_file(name).receipt
    assert receipt is not None and receipt.status == "positive"
    # It answers the HomeCareObservation SBDH (instance 9a6ff822…) and its MessageHeader.
    assert (receipt.original_envelope_id, receipt.original_message_id) == (
        EHMI_INSTANCE,
        HCO_HEADER,
    )
    assert _unwrap_file("sbdh/ehmi/ehmisbdh_fullsample.xml").receipt is None


def test_own_letter_wraps_into_a_valid_vans_envelope_and_back():
    letter = (FIXTURES / "oioxml" / "xdis91_correspondence.xml").read_bytes()
    wrapped = wrap_vans(
        letter,
        envelope_id=ENVELOPE_ID,
        message_id=MESSAGE_ID,
        sender="5790001234567",
        receiver="5790000345678",
        receipt_requested=True,
        name="XDIS91",
        version="XD9134L",
        sent=SENT,
    )
    assert _schema_errors(wrapped) == []
    unwrapped = unwrap(parse_xml(wrapped))
    assert unwrapped.payload == letter  # byte for byte: Latin-1 stays Latin-1
    assert (unwrapped.envelope_id, unwrapped.message_id) == (ENVELOPE_ID, MESSAGE_ID)
    assert (unwrapped.sender, unwrapped.receiver) == ("5790001234567", "5790000345678")
    assert (unwrapped.standard, unwrapped.document_type) == ("XML", "XDIS91")
    assert unwrapped.created == "2025-03-20T11:36:00+00:00"
    assert unwrapped.receipt_requested and unwrapped.payload_kind == "oioxml"

    [parsed] = parse_messages(wrapped)
    assert parsed.error is None and parsed.raw == wrapped
    meta = parsed.meta
    assert (meta.format, meta.type, meta.cpr) == ("xml", "XDIS91", "1203521234")
    # The letter's own envelope id, which its receipt (XCTL03) must quote, not VANS's.
    assert (meta.envelope_id, meta.control_id) == ("KUV2025032002", "KOR2025032001")
    assert meta.charset == "iso-8859-1" and meta.receipt_requested


def test_fhir_is_wrapped_as_hl7_with_its_mime_type():
    bundle = (FIXTURES / "fhir" / "carecommunication.json").read_bytes()
    wrapped = wrap_vans(
        bundle,
        sender="5790001234567",
        receiver="5790000345678",
        receipt_requested=False,
        name="MCM:FDIS91#CareCommunication",
        version="5.0",
    )
    assert _schema_errors(wrapped) == []
    root = parse_xml(wrapped)
    ns = {"v": "urn:oio:medcom:vans-envelope:1.0.4"}
    assert root.xpath("string(//v:Document/v:Format)", namespaces=ns) == "HL7"
    assert root.xpath("string(//v:Transport/v:Type)", namespaces=ns) == "unreliable"
    tag = root.xpath("//v:ServiceTag[@name='MCM:MIME']", namespaces=ns)
    assert [t.text for t in tag] == ["application/fhir+json"]
    unwrapped = unwrap(root)
    assert unwrapped.payload_mime == "application/fhir+json"
    assert not unwrapped.receipt_requested
    [parsed] = parse_messages(wrapped)
    assert (parsed.meta.format, parsed.meta.type) == ("fhir", "care-communication-message")
    assert parsed.meta.cpr == "1203521234"


def test_receipts_for_a_vans_envelope_validate_and_read_back():
    letter = (FIXTURES / "oioxml" / "xdis91_correspondence.xml").read_bytes()
    original = unwrap(
        parse_xml(
            wrap_vans(
                letter,
                envelope_id=ENVELOPE_ID,
                message_id=MESSAGE_ID,
                sender="5790001234567",
                receiver="5790000345678",
                name="XDIS91",
            )
        )
    )
    positive = vans_receipt(original, sent=SENT)
    assert _schema_errors(positive) == []
    back = unwrap(parse_xml(positive))
    # From the original's receiver back to its sender; a receipt is never acknowledged.
    assert (back.sender, back.receiver) == ("5790000345678", "5790001234567")
    assert back.receipt is not None and not back.receipt_requested and back.payload == b""
    assert (back.receipt.status, back.receipt.original_envelope_id) == ("positive", ENVELOPE_ID)
    assert back.receipt.original_message_id == MESSAGE_ID

    negative = vans_receipt(original, error="unknown receiver", error_code=12)
    assert _schema_errors(negative) == []
    receipt = unwrap(parse_xml(negative)).receipt
    assert receipt is not None and receipt.status == "negative-message"
    assert (receipt.error_code, receipt.error_description) == ("12", "unknown receiver")
    refused = vans_receipt(original, error="no such VANS mailbox", negative_vans=True)
    assert _schema_errors(refused) == []

    [parsed] = parse_messages(positive)
    assert parsed.error is None and parsed.envelope is not None
    assert (parsed.meta.format, parsed.meta.type) == ("vans", "receipt:positive")
    assert parsed.meta.envelope_id == back.envelope_id and not parsed.meta.receipt_requested


def test_a_receipt_quotes_medcoms_epic_numbers_as_they_came():
    original = _unwrap_file("vansenvelope/XDIS18_SBDH_Payload.xml")
    receipt = vans_receipt(original, envelope_id=ENVELOPE_ID, sent=SENT)
    errors = _schema_errors(receipt)
    assert [etree.QName(e.message.split("'")[1]).localname for e in errors] == [
        "OriginalEnvelopeIdentifier",
        "Identifier",
    ]


def test_wrapping_refuses_what_the_schema_would():
    letter = (FIXTURES / "oioxml" / "xdis91_correspondence.xml").read_bytes()
    common: dict[str, Any] = {"sender": "5790001234567", "receiver": "5790000345678"}
    with pytest.raises(EnvelopeError, match="EnvelopeIdentifier must be a UUID"):
        wrap_vans(letter, envelope_id="EPIC394319568", name="XDIS91", **common)
    with pytest.raises(EnvelopeError, match="EndPointType"):
        wrap_vans(letter, name="XDIS91", sender_type="GLN", **common)
    with pytest.raises(EnvelopeError, match="1-18 characters"):
        wrap_vans(letter, name="XDIS91", sender="5" * 19, receiver="5790000345678")
    with pytest.raises(EnvelopeError, match="Document/Name"):
        wrap_vans(letter, name="", **common)


def _vans(data: str, size: str | None = None, body: str | None = None) -> bytes:
    size_element = f"<SizeInBytes>{size}</SizeInBytes>" if size else ""
    message = body or (
        "<Message><MetaInformation><Identifier>" + MESSAGE_ID + "</Identifier>"
        "<Document><Format>XML</Format><Name>XDIS91</Name>" + size_element + "</Document>"
        "</MetaInformation><Data>" + data + "</Data></Message>"
    )
    return (
        '<VANSEnvelope xmlns="urn:oio:medcom:vans-envelope:1.0.4">'
        '<SenderID EndPointType="EAN">5790001234567</SenderID>'
        '<ReceiverID EndPointType="EAN">5790000345678</ReceiverID>'
        f"<EnvelopeIdentifier>{ENVELOPE_ID}</EnvelopeIdentifier>"
        f"<SentDateTime>2025-03-20T11:36:00</SentDateTime>{message}</VANSEnvelope>"
    ).encode()


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (_vans("not base64!"), "VANSEnvelope/Message/Data is not valid base64"),
        (_vans(""), "VANSEnvelope/Message/Data is missing or empty"),
        (
            _vans("PGEvPg==", size="99"),
            "Document/SizeInBytes says 99 but Message/Data holds 4 bytes",
        ),
        (_vans("", body="<Other/>"), "VANSEnvelope has neither Message nor Receipt"),
        (
            _vans("").replace(
                f"<EnvelopeIdentifier>{ENVELOPE_ID}</EnvelopeIdentifier>".encode(), b""
            ),
            "VANSEnvelope/EnvelopeIdentifier is missing or empty",
        ),
        (
            b'<StandardBusinessDocument xmlns="http://www.unece.org/cefact/namespaces/'
            b'StandardBusinessDocumentHeader"><StandardBusinessDocumentHeader><Sender>'
            b"<Identifier>0088:5790001234567</Identifier></Sender></StandardBusinessDocumentHeader>"
            b"</StandardBusinessDocument>",
            "StandardBusinessDocumentHeader/Receiver/Identifier is missing",
        ),
    ],
)
def test_malformed_envelopes_are_refused_with_a_reason(document, reason):
    root = parse_xml(document)
    with pytest.raises(EnvelopeError) as caught:
        unwrap(root)
    assert caught.value.reason == reason and isinstance(caught.value, ValueError)
    [parsed] = parse_messages(document)
    assert (parsed.error, parsed.error_code) == (reason, "SYN")


def test_payload_size_is_bounded():
    document = _vans(base64.b64encode(b"<a>" + b"x" * 2000 + b"</a>").decode())
    with pytest.raises(EnvelopeError, match="holds more than 1000 bytes"):
        unwrap(parse_xml(document), max_payload_bytes=1000)
    assert unwrap(parse_xml(document)).payload.startswith(b"<a>xxx")


def test_envelopes_nested_too_deep_are_refused():
    document = (FIXTURES / "oioxml" / "xref01_referral.xml").read_bytes()
    for _ in range(4):
        document = wrap_vans(document, sender="5790001234567", receiver="5790000345678", name="X")
    [parsed] = parse_messages(document)
    assert parsed.error == (
        "vans envelope payload: vans envelope payload: vans envelope payload: "
        "network envelopes nested more than 3 deep"
    )


def test_sbdh_with_an_inline_letter():
    letter = (FIXTURES / "oioxml" / "xref01_referral.xml").read_bytes()
    inline = etree.tostring(parse_xml(letter)).decode()
    document = (
        '<StandardBusinessDocument xmlns="http://www.unece.org/cefact/namespaces/'
        'StandardBusinessDocumentHeader"><StandardBusinessDocumentHeader>'
        "<HeaderVersion>1.0</HeaderVersion>"
        '<Sender><Identifier Authority="iso6523-actorid-upis">0088:5790000123453</Identifier>'
        '</Sender><Receiver><Identifier Authority="iso6523-actorid-upis">0088:5790001234567'
        "</Identifier></Receiver><DocumentIdentification><Standard>x</Standard>"
        "<TypeVersion>XH0130R</TypeVersion><InstanceIdentifier>" + ENVELOPE_ID + ""
        "</InstanceIdentifier><Type>XREF01</Type>"
        "<CreationDateAndTime>2025-03-13T09:00:00</CreationDateAndTime>"
        "</DocumentIdentification><BusinessScope><Scope><Type>SENDERID</Type>"
        "<InstanceIdentifier>123451000016007</InstanceIdentifier>"
        "<Identifier>dk-medcom-messaging</Identifier></Scope></BusinessScope>"
        "</StandardBusinessDocumentHeader>" + inline + "</StandardBusinessDocument>"
    ).encode()
    unwrapped = unwrap(parse_xml(document))
    assert unwrapped.payload_kind == "oioxml" and unwrapped.sender == "5790000123453"
    [parsed] = parse_messages(document)
    assert parsed.error is None
    assert (parsed.meta.type, parsed.meta.cpr) == ("XREF01", "1203521234")
    assert (parsed.meta.envelope_id, parsed.meta.sender_sor) == (
        "KUV2025031301",
        "123451000016007",
    )


def test_inspect_shows_the_envelope(tmp_path: Path):
    result = CliRunner().invoke(
        app,
        [
            "inspect",
            str(EXAMPLES / "sbdh/trifork_regionh/XDIS18_SBDH.xml"),
            "--config",
            str(tmp_path / "none.toml"),
        ],
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["metadata"]["type"] == "XDIS18"
    assert shown["envelope"]["kind"] == "sbdh"
    assert shown["envelope"]["sender_sor"] == RH_SOR
    assert shown["envelope"]["inner"]["kind"] == "vans"
    assert shown["envelope"]["inner"]["envelope_id"] == "EPIC394319568"
