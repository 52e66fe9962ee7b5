"""XCTL03 ↔ Acknowledgement: MedCom's own conversion examples, reproduced on content.

MedCom publishes the receipts of its conversion flows (shared/medcom/xml/
conversion_service_oioxml_fhir): Flow4 converts the XCTL03 receipts of the XDIS91 and XBIN01
letters made in Flow3 to one FHIR Acknowledgement, Flow2 converts an Acknowledgement to the
XCTL03 receipts of Flow1's XDIS91 and XBIN01. The mappings follow MedCom's mapping sheet
(docs/Mapning-XCTL-Acknowledgement.xlsx); what the sheet or the examples give that a
mapping cannot derive from its input (MedCom's converter remembers the messages it
converted; a mapping does not) is named below, ignored in the comparison, and what we write
instead is checked on its own.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import REPO, SHARED
from fhir.resources.R4B.bundle import Bundle as R4BBundle
from lxml import etree

from engine.formats.fhir import bundle_problems, parse_fhir, structure_problems
from engine.formats.xml.parser import parse_xml
from engine.mapping.base import MappingError
from engine.mapping.compare import json_differences, xml_differences
from engine.mapping.loader import load_mapping
from engine.mapping.sources import XmlDoc
from engine.mapping.testing import convert, run_tests

TO_FHIR = "xctl03-to-acknowledgement"
TO_XCTL03 = "acknowledgement-to-xctl03"
SCHEMAS = SHARED / "medcom" / "xsd"
EMESSAGE_XSD = SCHEMAS / "oioxml" / "2005-08-07" / "EMessage.xsd"
NS = {"m": "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"}

EXAMPLES = SHARED / "medcom" / "xml" / "conversion_service_oioxml_fhir"
FLOW4_INPUTS = {
    "XDIS91": EXAMPLES / "Flow4-XCTL03_Ex_to_FHIR_XDIS91.xml",
    "XBIN01": EXAMPLES / "Flow4-XCTL03_Ex_to_FHIR_XBIN01.xml",
}
FLOW4_EXPECTED = EXAMPLES / "Flow4-Acknowledgement_Ex_from_OIOXML.xml"
FLOW2_INPUT = EXAMPLES / "Flow2-Acknowledgement_Ex_to_OIOXML.xml"
FLOW2_EXPECTED = EXAMPLES / "Flow2-XCTL03_Ex_from_FHIR_XDIS91.xml"
ACK_EXAMPLES = SHARED / "medcom" / "fhir" / "examples" / "acknowledgement"

# Our synthetic cases (the mappings' own tests): the hospital's XCTL03 for the XDIS91 that
# carecommunication-to-xdis91 makes of fixtures/fhir/carecommunication.json, and the
# hospital's Acknowledgement of that CareCommunication, positive and refused.
RECEIPT = (REPO / "mappings" / TO_FHIR / "tests" / "receipt.input.xml").read_bytes()
ACKNOWLEDGEMENT = (
    REPO / "mappings" / TO_XCTL03 / "tests" / "acknowledgement.input.json"
).read_bytes()
REFUSED = (REPO / "mappings" / TO_XCTL03 / "tests" / "refused.input.json").read_bytes()

Bundle = dict[str, Any]

# ---------------------------------------------------------------------------------------
# Flow4, XCTL03 → Acknowledgement. MedCom's expected Bundle (entries: 0 MessageHeader,
# 1 Provenance of the acknowledged message, 2 Provenance of the acknowledgement, 3 the
# receiving Organization, 4 the sending Organization; ours has the same order) is compared
# with ours except for:
FLOW4_IGNORE = [
    # Random UUIDs of MedCom's converter; ours are stable (uuid_for of the receipt's
    # identifiers). That every reference points at the same entry as MedCom's is checked by
    # test_flow4_references_point_where_medcoms_do.
    "id",
    "entry[*].fullUrl",
    "entry[*].resource.id",
    "entry[0].resource.destination[*].receiver.reference",
    "entry[0].resource.sender.reference",
    "entry[1].resource.agent[*].who.reference",
    "entry[2].resource.target[*].reference",
    "entry[2].resource.agent[*].who.reference",
    # The acknowledged message: MedCom names MessageHeader/60098c38-…, the id of Flow3's
    # CareCommunication, which its converter remembers having turned into letter
    # Brevt23400930. The receipt itself only says Brevt23400930 (OriginalLetterIdentifier),
    # which is what the xlsx maps to response.identifier and what we write
    # (test_flow4_the_acknowledged_letter_is_the_receipts).
    "entry[0].resource.response.identifier",
    "entry[1].resource.target[*].reference",
    "entry[2].resource.entity[*].what.reference",
    # Generated narrative (text.status/div), rendered by MedCom's IG tooling; we send none.
    "entry[*].resource.text",
    # Bundle.timestamp and the acknowledgement's Provenance.recorded: MedCom writes the
    # receipt's Danish 12:33 as 12:33Z (13:33 in Denmark), while the same Provenance's
    # occurredDateTime says 12:33+01:00. Ours is Envelope/Sent in Danish time, +01:00,
    # everywhere (test_flow4_times_are_the_receipts_in_danish_time).
    "timestamp",
    "entry[2].resource.recorded",
]

# ---------------------------------------------------------------------------------------
# Flow2, Acknowledgement → XCTL03: MedCom's expected receipt for the XDIS91 is compared with
# ours (canonical XML) except for:
FLOW2_IGNORE = [
    # 2023-11-20 17:46 is a minute after Flow1's XDIS91 was sent; the Acknowledgement's
    # Bundle.timestamp, which the xlsx maps here, is 2023-11-22T12:33:00Z. Ours is that
    # (test_flow2_ids_and_times_follow_the_sheet).
    "Envelope/Sent",
    # KuvertNr1256 and BrevNr5698 are not in the Acknowledgement. Ours are Bundle.id and
    # MessageHeader.id without hyphens, cut to the schema's 14 characters.
    "Envelope/Identifier",
    "PositiveReceipt/Letter/Identifier",
    # Flow1's XDIS91 (KuvNrerwerwe99, Brevt23400929): MedCom's converter remembers the
    # letter it turned into the acknowledged message. The Acknowledgement carries no
    # envelope id at all (xlsx: "Bundle.id (previous message)"), and its response.identifier
    # is 60098c38-…, Flow3's CareCommunication, not Flow1's (the example is Flow4's
    # Acknowledgement with other Organization ids). Ours: UKENDT, and response.identifier
    # without hyphens, cut to 14.
    "PositiveReceipt/OriginalEmessage/OriginalEnvelopeIdentifier",
    "PositiveReceipt/OriginalEmessage/OriginalLetter/OriginalLetterIdentifier",
]

# XCTL03 → FHIR → XCTL03 keeps the receipt except for new envelope and letter identifiers
# (derived from the Acknowledgement's UUIDs) and the original envelope's identifier, which
# an Acknowledgement has no place for.
ROUND_TRIP_LOST = [
    "Envelope/Identifier",
    "PositiveReceipt/Letter/Identifier",
    "PositiveReceipt/OriginalEmessage/OriginalEnvelopeIdentifier",
]


@pytest.fixture(scope="module")
def medcom():
    if not EXAMPLES.is_dir() or not EMESSAGE_XSD.is_file():
        pytest.fail(f"MedCom's examples and schemas not found under {SHARED}")


@pytest.fixture(scope="module")
def to_fhir(medcom):
    return load_mapping(REPO / "mappings", TO_FHIR, SCHEMAS)


@pytest.fixture(scope="module")
def to_xctl03(medcom):
    return load_mapping(REPO / "mappings", TO_XCTL03, SCHEMAS)


@pytest.fixture(scope="module")
def schema(medcom):
    return etree.XMLSchema(etree.parse(str(EMESSAGE_XSD)))


def resources(bundle: Bundle, kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def reference_graph(bundle: Bundle) -> dict[str, tuple[str, int]]:
    """Every reference in the Bundle, by path, as (resource type, entry position) it names;
    one outside the Bundle (the acknowledged message) as ("outside", -1)."""
    where: dict[str, tuple[str, int]] = {}
    for position, entry in enumerate(bundle["entry"]):
        resource = entry["resource"]
        local = f"{resource['resourceType']}/{resource['id']}"
        where[local] = where[entry["fullUrl"]] = (resource["resourceType"], position)
    found: dict[str, tuple[str, int]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "reference" and isinstance(value, str):
                    found[path] = where.get(value, ("outside", -1))
                else:
                    walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")

    walk(bundle, "Bundle")
    return found


def xml_text(xml: bytes, path: str) -> str:
    """An element's text as Kanal reads it, "" if absent."""
    return XmlDoc(parse_xml(xml), NS).get(path)


def flow4_expected() -> bytes:
    return FLOW4_EXPECTED.read_bytes()


# ------------------------------------------------------------------ the mappings' own tests


def test_both_mappings_pass_their_own_tests(shared):
    for name, cases in ((TO_FHIR, ["receipt"]), (TO_XCTL03, ["acknowledgement", "refused"])):
        results = run_tests(REPO / "mappings", name, SCHEMAS)
        assert [r.case for r in results] == cases
        assert all(r.passed for r in results), [r.problems for r in results]


# ------------------------------------------------------------------ Flow4: XCTL03 → FHIR


# MedCom answers both Flow3 letters (the XDIS91 and the XBIN01 carrying its attachment) with
# the one Acknowledgement of the one CareCommunication: either receipt gives it.
@pytest.mark.parametrize("letter", FLOW4_INPUTS)
def test_flow4_reproduces_medcoms_acknowledgement(to_fhir, letter):
    ours = convert(to_fhir, FLOW4_INPUTS[letter].read_bytes())
    assert json_differences(flow4_expected(), ours, FLOW4_IGNORE) == []


def test_flow4_references_point_where_medcoms_do(to_fhir):
    ours = json.loads(convert(to_fhir, FLOW4_INPUTS["XDIS91"].read_bytes()))
    theirs = parse_fhir(flow4_expected())
    assert reference_graph(ours) == reference_graph(theirs)
    assert [e["resource"]["resourceType"] for e in ours["entry"]] == [
        e["resource"]["resourceType"] for e in theirs["entry"]
    ]


def test_flow4_the_acknowledged_letter_is_the_receipts(to_fhir):
    ours = json.loads(convert(to_fhir, FLOW4_INPUTS["XDIS91"].read_bytes()))
    header = resources(ours, "MessageHeader")[0]
    acknowledged, acknowledgement = resources(ours, "Provenance")
    assert header["response"] == {"identifier": "Brevt23400930", "code": "ok"}
    assert acknowledged["target"] == [{"reference": "MessageHeader/Brevt23400930"}]
    assert acknowledgement["entity"] == [
        {"role": "revision", "what": {"reference": "MessageHeader/Brevt23400930"}}
    ]
    # MedCom's id is that of the CareCommunication its Flow3 made Brevt23400930 of:
    flow3 = parse_fhir((EXAMPLES / "Flow3-CareCommunication_Ex_to_OIOXML.xml").read_bytes())
    theirs = resources(parse_fhir(flow4_expected()), "MessageHeader")[0]["response"]
    assert theirs["identifier"] == resources(flow3, "MessageHeader")[0]["id"]
    flow3_letter = parse_xml((EXAMPLES / "Flow3-XDIS91_Ex_from_FHIR.xml").read_bytes())
    assert flow3_letter.xpath(
        "string(//*[local-name()='Letter']/*[local-name()='Identifier'])"
    ) == ("Brevt23400930")


def test_flow4_times_are_the_receipts_in_danish_time(to_fhir):
    ours = json.loads(convert(to_fhir, FLOW4_INPUTS["XDIS91"].read_bytes()))
    assert ours["timestamp"] == "2023-11-22T12:33:00+01:00"  # Envelope/Sent, winter time
    for provenance in resources(ours, "Provenance"):
        assert provenance["occurredDateTime"] == provenance["recorded"] == ours["timestamp"]
    summer = RECEIPT.replace(b"<Date>2025-03-21</Date>", b"<Date>2025-07-01</Date>")
    assert summer != RECEIPT
    assert json.loads(convert(to_fhir, summer))["timestamp"] == "2025-07-01T09:17:00+02:00"


def test_flow4_ids_are_stable_uuids(to_fhir):
    raw = FLOW4_INPUTS["XDIS91"].read_bytes()
    ours = json.loads(convert(to_fhir, raw))
    uuid = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
    assert uuid.match(ours["id"])
    assert all(uuid.match(e["resource"]["id"]) for e in ours["entry"])
    assert len({e["resource"]["id"] for e in ours["entry"]}) == len(ours["entry"])
    assert convert(to_fhir, raw) == convert(to_fhir, raw)


# ------------------------------------------------------------------ Flow2: FHIR → XCTL03


def test_flow2_reproduces_medcoms_xctl03(to_xctl03):
    ours = convert(to_xctl03, FLOW2_INPUT.read_bytes())
    assert xml_differences(FLOW2_EXPECTED.read_bytes(), ours, FLOW2_IGNORE) == []


def test_flow2_ids_and_times_follow_the_sheet(to_xctl03):
    ours = convert(to_xctl03, FLOW2_INPUT.read_bytes())
    bundle = parse_fhir(FLOW2_INPUT.read_bytes())
    header = resources(bundle, "MessageHeader")[0]
    assert bundle["timestamp"] == "2023-11-22T12:33:00Z"
    assert xml_text(ours, "m:Envelope/m:Sent/m:Date") == "2023-11-22"
    assert xml_text(ours, "m:Envelope/m:Sent/m:Time") == "12:33"  # as written
    assert xml_text(ours, "m:Envelope/m:Identifier") == bundle["id"].replace("-", "")[:14]
    assert (
        xml_text(ours, "m:PositiveReceipt/m:Letter/m:Identifier")
        == (header["id"].replace("-", "")[:14])
    )
    original = "m:PositiveReceipt/m:OriginalEmessage"
    assert xml_text(ours, f"{original}/m:OriginalEnvelopeIdentifier") == "UKENDT"
    assert xml_text(ours, f"{original}/m:OriginalLetter/m:OriginalLetterIdentifier") == (
        "60098c386fe141"
    )
    # MedCom's example names Flow1's letter, though its response.identifier is Flow3's
    # CareCommunication (60098c38-…), not Flow1's (56d771fd-…):
    flow1 = parse_fhir((EXAMPLES / "Flow1-CareCommunication_Ex_from_OIOXML.xml").read_bytes())
    flow3 = parse_fhir((EXAMPLES / "Flow3-CareCommunication_Ex_to_OIOXML.xml").read_bytes())
    assert header["response"]["identifier"] == resources(flow3, "MessageHeader")[0]["id"]
    assert header["response"]["identifier"] != resources(flow1, "MessageHeader")[0]["id"]


# ------------------------------------------------------------------ negative Acknowledgements


def test_a_refused_acknowledgement_is_a_negative_receipt(to_xctl03, schema):
    ours = convert(to_xctl03, REFUSED)
    assert schema.validate(etree.fromstring(ours)), [str(e) for e in schema.error_log]
    receipt = "m:NegativeReceipt"
    assert xml_text(ours, f"{receipt}/m:Letter/m:VersionCode") == "XC0230Q"
    assert xml_text(ours, f"{receipt}/m:Letter/m:StatisticalCode") == "XCTL02"
    # MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE (conceptmaps/issue-refuse-code.csv)
    assert xml_text(ours, f"{receipt}/m:OriginalEmessage/m:RefuseCode") == "problem_med_version"
    assert xml_text(ours, f"{receipt}/m:OriginalEmessage/m:RefuseText") == (
        "Afdelingen modtager ikke korrespondancemeddelelser.\n"
        "Send til Medicinsk Ambulatorium M102, så hurtigt som muligt."
    )
    assert xml_text(ours, "m:PositiveReceipt/m:Letter/m:Identifier") == ""


@pytest.mark.parametrize(
    ("example", "code"),
    [
        ("Bundle-bc9535ef-ed94-4060-a928-7baddec7ee71.json", "MSG_VALUESET_VALUE_UNKNOWN"),
        ("Bundle-c9c2b2f6-0807-11ed-861d-0242ac120002.json", "MSG_Mailbox_Out_Of_Operation"),
    ],
)
def test_medcoms_negative_examples_become_valid_negative_receipts(to_xctl03, schema, example, code):
    ours = convert(to_xctl03, (ACK_EXAMPLES / example).read_bytes())
    assert schema.validate(etree.fromstring(ours)), [str(e) for e in schema.error_log]
    original = "m:NegativeReceipt/m:OriginalEmessage"
    assert xml_text(ours, f"{original}/m:RefuseCode") == "ikke_specificeret"
    assert xml_text(ours, f"{original}/m:RefuseText") == code  # no text: the code is kept


# ------------------------------------------------------------------ validity


@pytest.mark.parametrize("source", ["synthetic", "medcom"])
def test_the_xctl03_output_is_valid_against_the_2005_08_07_schema(to_xctl03, schema, source):
    raw = ACKNOWLEDGEMENT if source == "synthetic" else FLOW2_INPUT.read_bytes()
    ours = convert(to_xctl03, raw)
    assert ours.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    document = etree.fromstring(ours)
    assert schema.validate(document), [str(error) for error in schema.error_log]
    assert etree.QName(document).localname == "Emessage"


@pytest.mark.parametrize("source", ["synthetic", "XDIS91", "XBIN01"])
def test_the_fhir_output_is_a_valid_bundle(to_fhir, source):
    raw = RECEIPT if source == "synthetic" else FLOW4_INPUTS[source].read_bytes()
    ours = json.loads(convert(to_fhir, raw))
    assert bundle_problems(ours) == []
    assert structure_problems(ours) == []
    R4BBundle.model_validate(ours)  # fhir.resources R4B, directly


# ------------------------------------------------------------------ errors


def test_an_unknown_ean_is_an_error_naming_code_map_and_rule(to_fhir):
    unknown = RECEIPT.replace(
        b"<Receiver>\n      <EANIdentifier>5790000345678",
        b"<Receiver>\n      <EANIdentifier>5790000000001",
    )
    assert unknown != RECEIPT
    with pytest.raises(MappingError) as raised:
        convert(to_fhir, unknown)
    message = str(raised.value)
    assert "'5790000000001'" in message
    assert "ean-to-sor.csv" in message
    assert "rule 'destination-endpoint'" in message


def test_a_bundle_without_a_response_is_an_error(to_xctl03):
    bundle = json.loads(ACKNOWLEDGEMENT)
    del resources(bundle, "MessageHeader")[0]["response"]
    with pytest.raises(MappingError) as raised:
        convert(to_xctl03, json.dumps(bundle).encode())
    assert "original-letter" in str(raised.value)


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("source", ["synthetic", "medcom"])
def test_xctl03_to_fhir_and_back_keeps_the_receipt(to_fhir, to_xctl03, source):
    raw = RECEIPT if source == "synthetic" else FLOW4_INPUTS["XDIS91"].read_bytes()
    back = convert(to_xctl03, convert(to_fhir, raw))
    for path in (
        "m:Envelope/m:Sent/m:Date",
        "m:Envelope/m:Sent/m:Time",
        "m:PositiveReceipt/m:Sender/m:EANIdentifier",
        "m:PositiveReceipt/m:Receiver/m:EANIdentifier",
        "m:PositiveReceipt/m:OriginalEmessage/m:OriginalLetter/m:OriginalLetterIdentifier",
    ):
        assert xml_text(back, path) == xml_text(raw, path) != "", path
    assert xml_differences(raw, back, ROUND_TRIP_LOST) == []


def test_acknowledgement_to_xctl03_and_back_keeps_what_a_receipt_can_carry(to_fhir, to_xctl03):
    original = json.loads(ACKNOWLEDGEMENT)
    back = json.loads(convert(to_fhir, convert(to_xctl03, ACKNOWLEDGEMENT)))
    header, header_back = (resources(b, "MessageHeader")[0] for b in (original, back))
    assert header_back["response"] == {
        "identifier": header["response"]["identifier"].replace("-", "")[:14],
        "code": "ok",
    }
    assert header_back["eventCoding"] == header["eventCoding"]
    assert header_back["source"] == header["source"]
    assert header_back["destination"][0]["endpoint"] == header["destination"][0]["endpoint"]

    # The organisations keep their GLN and SOR codes; their names are not in a receipt.
    def parties(bundle: Bundle) -> list[str]:
        return sorted(json.dumps(o["identifier"]) for o in resources(bundle, "Organization"))

    assert parties(back) == parties(original)
    # The timestamp's minute survives (an OIOXML time has no seconds).
    assert back["timestamp"] == original["timestamp"][:16] + ":00+01:00"
