"""MedCom receipts: CTL02/CTL03, XCTL02/XCTL03 and the FHIR Acknowledgement we build, checked
against MedCom's own receipts byte for byte or element for element, and reading the receipts
partners send back."""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED
from lxml import etree

from engine.formats.edifact import parse_edifact
from engine.formats.fhir import bundle_problems, parse_fhir, structure_problems
from engine.formats.sniff import parse_messages
from engine.formats.xml import SchemaCatalogue, parse_xml
from engine.receipts.medcom import (
    build_acknowledgement,
    build_ctl02,
    build_ctl03,
    build_xctl02,
    build_xctl03,
    edifact_receipt,
    ftx,
    needs_acknowledgement,
    read_receipt,
    xml_receipt,
)

MEDCOM = SHARED / "medcom"
PAIRS = MEDCOM / "pairs"
CONVERSION = MEDCOM / "xml" / "conversion_service_oioxml_fhir"
FHIR_EXAMPLES = MEDCOM / "fhir" / "examples"
ACK_EXAMPLES = FHIR_EXAMPLES / "acknowledgement"
NS_2005 = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"
WHEN = datetime(1999, 11, 11, 18, 50)
AWARE = datetime(2024, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))

# The interchange MedCom's CTL02_1/CTL03_1 answer (their UCI and UCM name it): MEDREF01095 from
# 5790000181872 to 5790000120420, with a positive receipt requested.
REFERRAL = (
    "UNA:+.? '\n"
    "UNB+UNOC:3+5790000181872:14+5790000120420:14+991111:1846+MEDREF01095++++1'\n"
    "UNH+{letter}+MEDREF:D:93A:UN:H0130R+REF01'\n"
    "UNT+2+{letter}'\n"
    "UNZ+1+MEDREF01095'\n"
)
CTL02_TEXT = (
    "EDI-brev med nummeret 1111MAN01095, afsendt 11/11 1999 kl 18.46 har ikke kunnet "
    "modtages. Horsens Sygehus, laboratoriet kan ikke modtage sygehushenvisninger. \n"
    "Med venlig hilsen\n IT-Hotline. Horsens Sygehus.Telefon 86345678."
)


def referral(letter: str) -> bytes:
    return REFERRAL.format(letter=letter).encode("iso-8859-1")


@cache
def schemas() -> SchemaCatalogue:
    return SchemaCatalogue(MEDCOM / "xsd" / "oioxml")


def canonical(raw: bytes) -> bytes:
    """The document without layout whitespace, for comparing element trees."""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    return etree.tostring(etree.fromstring(raw, parser), method="c14n")


# ---------------------------------------------------------------------------------------------
# EDIFACT CONTRL
# ---------------------------------------------------------------------------------------------


def test_ctl03_is_medcoms_own_ctl03_byte_for_byte():
    received = parse_edifact(referral("1111FRE01095"))
    receipt = build_ctl03(
        received, timestamp=WHEN, envelope_id="KuvertNr1234", letter_id="BrevNr5678", line_end="\n"
    )
    assert receipt + b"\n" == (PAIRS / "CTL03_1.edi").read_bytes()


def test_ctl02_is_medcoms_own_ctl02_byte_for_byte_text_wrapping_included():
    received = parse_edifact(referral("1111MAN01095"))
    receipt = build_ctl02(
        received,
        "VER",
        CTL02_TEXT,
        timestamp=WHEN,
        envelope_id="KuvertNr1234",
        letter_id="BrevNr5678",
        line_end="\n",
    )
    assert receipt + b"\n" == (PAIRS / "CTL02_1.edi").read_bytes()


def test_ctl02_defaults_crlf_latin1_derived_ids_and_swapped_parties():
    receipt = build_ctl02(
        parse_edifact(referral("1111MAN01095")), "VER", "Ukendt version æøå", timestamp=WHEN
    )
    assert receipt.startswith(b"UNA:+.? '\r\n") and receipt.endswith(b"'\r\n")
    assert "æøå".encode("iso-8859-1") in receipt
    ours = parse_edifact(receipt)
    unb, uci = ours.first("UNB"), ours.first("UCI")
    assert (ours.value(unb, 1), ours.value(unb, 2)) == ("5790000120420", "5790000181872")
    assert (ours.value(uci, 0), ours.value(uci, 1), ours.value(uci, 2)) == (
        "MEDREF01095",
        "5790000181872",
        "5790000120420",
    )
    envelope_id = ours.value(unb, 4)
    assert len(envelope_id) == 14 and envelope_id == ours.value(ours.first("UNZ"), 1)
    assert ours.value(ours.first("UNH"), 2) == "CTL02"
    verdict = read_receipt(ours)
    assert verdict is not None and (verdict.refusal_code, verdict.text) == (
        "VER",
        "Ukendt version æøå",
    )


def test_a_duplicate_gets_the_identical_receipt_and_another_envelope_another():
    first = build_ctl02(parse_edifact(referral("L1")), "NC", "nej", timestamp=WHEN)
    again = build_ctl02(parse_edifact(referral("L1")), "NC", "nej", timestamp=WHEN)
    other = build_ctl02(parse_edifact(referral("L2")), "NC", "nej", timestamp=WHEN)
    assert first == again
    assert parse_edifact(first).value(parse_edifact(first).first("UNB"), 4) != parse_edifact(
        other
    ).value(parse_edifact(other).first("UNB"), 4)


def test_envelope_level_refusal_puts_ftx_before_the_ucm_as_ctl01_does():
    receipt = build_ctl02(parse_edifact(referral("L1")), "LOK", "ukendt", timestamp=WHEN)
    tags = [s.tag for s in parse_edifact(receipt).segments]
    assert tags == ["UNB", "UNH", "UCI", "FTX", "UCM", "UNT", "UNZ"]
    refused_letter = build_ctl02(parse_edifact(referral("L1")), "VER", "x", timestamp=WHEN)
    assert [s.tag for s in parse_edifact(refused_letter).segments][3:5] == ["UCM", "FTX"]


def test_ftx_text_is_escaped_and_wrapped_within_five_components_of_70():
    text = "Fejl: segment + 'UNH' ?\n" + "ord " * 200
    receipt = build_ctl02(parse_edifact(referral("L1")), "SYN", text, timestamp=WHEN)
    assert b"Fejl?: segment ?+ ?'UNH?' ??" in receipt
    ftx_segment = parse_edifact(receipt).first("FTX")
    assert ftx_segment is not None
    components = ftx_segment.elements[3]
    assert len(components) == 5 and all(len(c) <= 70 for c in components)
    assert components[0] == "Fejl: segment + 'UNH' ?" and components[-1].endswith("...")


def test_ftx_wrap_and_unwrap_are_inverse():
    assert ftx.unwrap(ftx.wrap(CTL02_TEXT)) == CTL02_TEXT


@pytest.mark.parametrize(
    ("name", "envelope", "letters"),
    [
        ("DIS20_ERROR_UNB1.edi", "UKENDT", 1),  # no UNB at all: nothing to reference
        ("DIS20_ERROR_UNH2.edi", "123456789", 1),  # UNB readable, UNT reference wrong
        ("DIS20_ERROR_ENC0.edi", "123456789", 1),  # UTF-8 in a UNOC interchange
    ],
)
def test_unparseable_input_still_gets_a_readable_ctl02(name, envelope, letters):
    raw = (MEDCOM / "edifact_negative" / name).read_bytes()
    [parsed] = parse_messages(raw)
    assert parsed.error is not None and parsed.error_code == "SYN"
    receipt = build_ctl02(
        raw, parsed.error_code, parsed.error, timestamp=WHEN, own_id="5790000000001"
    )
    assert receipt == build_ctl02(
        raw, parsed.error_code, parsed.error, timestamp=WHEN, own_id="5790000000001"
    )
    verdict = read_receipt(parse_edifact(receipt))
    assert verdict is not None and not verdict.positive
    assert (verdict.refers_to, verdict.refusal_code, verdict.text) == (
        envelope,
        "SYN",
        parsed.error,
    )
    assert len(verdict.letters) == letters


def test_broken_unb_falls_back_to_the_given_parties():
    raw = (MEDCOM / "edifact_negative" / "DIS20_ERROR_UNB1.edi").read_bytes()
    receipt = parse_edifact(
        build_ctl02(raw, "SYN", "no UNB", timestamp=WHEN, own_id="5790000000001", partner_id="P")
    )
    unb = receipt.first("UNB")
    assert (receipt.value(unb, 1), receipt.value(unb, 2)) == ("5790000000001", "P")


def test_edifact_receipt_only_when_owed_and_never_for_a_receipt():
    requested = parse_edifact(referral("L1"))
    assert edifact_receipt(requested, timestamp=WHEN) is not None
    not_requested = parse_edifact((PAIRS / "DIS01_1.edi").read_bytes())  # UNB ++++0
    assert edifact_receipt(not_requested, timestamp=WHEN) is None
    assert edifact_receipt(not_requested, ("VER", "nej"), timestamp=WHEN) is not None
    for name in ("CTL01_1.edi", "CTL02_1.edi", "CTL03_1.edi"):
        contrl = parse_edifact((PAIRS / name).read_bytes())
        assert edifact_receipt(contrl, ("SYN", "x"), timestamp=WHEN) is None


# ---------------------------------------------------------------------------------------------
# OIOXML
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("letter", "receipt"),
    [
        ("Flow1-XDIS91_Ex_to_FHIR.xml", "Flow2-XCTL03_Ex_from_FHIR_XDIS91.xml"),
        ("Flow3-XDIS91_Ex_from_FHIR.xml", "Flow4-XCTL03_Ex_to_FHIR_XDIS91.xml"),
        ("Flow1-XBIN01_Ex_to_FHIR.xml", "Flow2-XCTL03_Ex_from_FHIR_XBIN01.xml"),
        ("Flow3-XBIN01_Ex_from_FHIR.xml", "Flow4-XCTL03_Ex_to_FHIR_XBIN01.xml"),
    ],
)
def test_xctl03_is_medcoms_own_xctl03(letter, receipt):
    """MedCom's conversion examples: the letters and the XCTL03 answering each (the 2006-07-01
    letters are answered in 2005-08-07, the only namespace with receipt schemas)."""
    expected = (CONVERSION / receipt).read_bytes()
    root = parse_xml(expected)
    ns = {"m": NS_2005}
    envelope_id = root.findtext("m:Envelope/m:Identifier", namespaces=ns)
    letter_id = root.findtext("m:PositiveReceipt/m:Letter/m:Identifier", namespaces=ns)
    sent = datetime.fromisoformat(
        root.findtext("m:Envelope/m:Sent/m:Date", namespaces=ns)
        + "T"
        + root.findtext("m:Envelope/m:Sent/m:Time", namespaces=ns)
    )
    built = build_xctl03(
        parse_xml((CONVERSION / letter).read_bytes()),
        timestamp=sent,
        envelope_id=envelope_id,
        letter_id=letter_id,
    )
    assert canonical(built) == canonical(expected)


def letters_in_pairs() -> list[Path]:
    return [p for p in sorted(PAIRS.glob("*.xml")) if not p.name.startswith("CTL")]


@pytest.mark.parametrize("path", letters_in_pairs(), ids=lambda p: p.name)
def test_xml_receipts_for_every_pair_letter_are_schema_valid(path):
    root = parse_xml(path.read_bytes())
    for receipt in (
        build_xctl03(root, timestamp=WHEN),
        build_xctl02(root, "VER", "Linje æøå\nLinje 2", timestamp=WHEN),
        build_xctl02(root, "LOK", "ukendt", timestamp=WHEN),
    ):
        assert receipt.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
        ours = parse_xml(receipt)
        assert etree.QName(ours).namespace == NS_2005
        assert schemas().errors(ours) == []


def test_xctl02_swaps_parties_and_carries_refuse_code_and_text():
    letter = parse_xml((PAIRS / "DIS01_1.xml").read_bytes())
    receipt = build_xctl02(letter, "VER", "Kan ikke modtage\nHilsen", timestamp=WHEN)
    ns = {"m": NS_2005}
    root = parse_xml(receipt)
    negative = root.find("m:NegativeReceipt", ns)
    assert negative is not None
    assert negative.findtext("m:Sender/m:EANIdentifier", namespaces=ns) == "5790000128686"
    assert negative.findtext("m:Receiver/m:EANIdentifier", namespaces=ns) == "5790000120420"
    original = negative.find("m:OriginalEmessage", ns)
    assert original.findtext("m:OriginalEnvelopeIdentifier", namespaces=ns) == "KuvertNr012234"
    refused = original.find("m:OriginalLetter", ns)
    assert refused.findtext("m:OriginalLetterIdentifier", namespaces=ns) == "BrevNr00129"
    assert refused.findtext("m:RefuseCode", namespaces=ns) == "problem_med_version"
    assert b"<RefuseText>Kan ikke modtage<Break/>Hilsen<Break/></RefuseText>" in receipt
    verdict = read_receipt(root)
    assert verdict is not None
    assert (verdict.kind, verdict.refers_to, verdict.letters) == (
        "CTL02",
        "KuvertNr012234",
        ("BrevNr00129",),
    )
    assert (verdict.refusal_code, verdict.text) == ("VER", "Kan ikke modtage\nHilsen")
    assert build_xctl02(letter, "VER", "Kan ikke modtage\nHilsen", timestamp=WHEN) == receipt


def test_xml_receipt_only_when_owed_and_never_for_a_receipt():
    requested = parse_xml((CONVERSION / "Flow3-XDIS91_Ex_from_FHIR.xml").read_bytes())
    not_requested = parse_xml((CONVERSION / "Flow1-XBIN01_Ex_to_FHIR.xml").read_bytes())
    assert xml_receipt(requested, timestamp=WHEN) is not None
    assert xml_receipt(not_requested, timestamp=WHEN) is None
    assert xml_receipt(not_requested, ("SYN", "x"), timestamp=WHEN) is not None
    for name in ("CTL01_1.xml", "CTL02_1.xml", "CTL03_1.xml"):
        assert (
            xml_receipt(parse_xml((PAIRS / name).read_bytes()), ("SYN", "x"), timestamp=WHEN)
            is None
        )


# ---------------------------------------------------------------------------------------------
# FHIR Acknowledgement
# ---------------------------------------------------------------------------------------------

MESSAGES = sorted(
    p
    for folder in ("carecommunication", "hospitalnotification")
    for p in (FHIR_EXAMPLES / folder).glob("*.json")
)
EXAMPLE_FOR = {  # MedCom's own acknowledgement example with each response code
    "ok": "Bundle-a8c041b8-c65a-4fde-a90f-962076918834.json",
    "transient-error": "Bundle-c9c2b2f6-0807-11ed-861d-0242ac120002.json",
    "fatal-error": "Bundle-bc9535ef-ed94-4060-a928-7baddec7ee71.json",
}
VERDICTS = {
    "ok": {},
    "transient-error": {"issue": "MSG_Mailbox_Out_Of_Operation"},
    "fatal-error": {"issue": "MSG_VALUESET_VALUE_UNKNOWN", "text": "Patient.gender: 'x'"},
}


@cache
def issue_valueset() -> set[tuple[str, str]]:
    """(system, code) of ValueSet medcom-acknowledgement-issue-details, read from the package
    (terminology 2.0.2: the version that names the HL7 CodeSystem correctly)."""
    package = MEDCOM / "fhir" / "packages" / "medcom.fhir.dk.terminology#2.0.2.tgz"
    with tarfile.open(package) as tar:
        member = tar.extractfile("package/ValueSet-medcom-acknowledgement-issue-details.json")
        assert member is not None
        valueset = json.load(member)
    return {
        (include["system"], concept["code"])
        for include in valueset["compose"]["include"]
        for concept in include["concept"]
    }


def entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"]]


def first(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(r for r in entries(bundle) if r["resourceType"] == kind)


def by_reference(bundle: dict[str, Any], reference: str) -> dict[str, Any]:
    return next(r for r in entries(bundle) if f"{r['resourceType']}/{r['id']}" == reference)


def gln(organization: dict[str, Any]) -> str:
    return next(i["value"] for i in organization["identifier"] if i["system"].endswith("gln"))


@pytest.mark.parametrize("code", list(VERDICTS))
@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: p.name)
def test_acknowledgement_is_valid_and_shaped_like_medcoms(path, code):
    received = parse_fhir(path.read_bytes())
    assert needs_acknowledgement(received)
    ack = build_acknowledgement(received, code, timestamp=AWARE, **VERDICTS[code])
    assert structure_problems(ack) == [] and bundle_problems(ack) == []
    example = parse_fhir((ACK_EXAMPLES / EXAMPLE_FOR[code]).read_bytes())
    shape = lambda b: Counter(  # noqa: E731
        (r["resourceType"], tuple(r["meta"]["profile"])) for r in entries(b)
    )
    assert shape(ack) == shape(example)
    assert ack["meta"] == example["meta"] and ack["type"] == "message"

    header, theirs = first(ack, "MessageHeader"), first(received, "MessageHeader")
    assert header["eventCoding"] == first(example, "MessageHeader")["eventCoding"]
    assert header["response"]["identifier"] == theirs["id"]
    assert header["response"]["code"] == code
    # sender and receiver swapped: organisations and endpoints
    assert gln(by_reference(ack, header["sender"]["reference"])) == gln(
        by_reference(received, theirs["destination"][0]["receiver"]["reference"])
    )
    assert gln(by_reference(ack, header["destination"][0]["receiver"]["reference"])) == gln(
        by_reference(received, theirs["sender"]["reference"])
    )
    assert header["source"]["endpoint"] == theirs["destination"][0]["endpoint"]
    assert header["destination"][0]["endpoint"] == theirs["source"]["endpoint"]
    provenances = {
        p["activity"]["coding"][0]["code"]: p
        for p in entries(ack)
        if p["resourceType"] == "Provenance"
    }
    assert provenances["acknowledgement"]["entity"][0]["what"]["reference"] == (
        f"MessageHeader/{theirs['id']}"
    )
    assert provenances["acknowledgement"]["agent"][0]["who"] == header["sender"]
    assert len(provenances) == 2
    if code == "ok":
        assert "details" not in header["response"]
    else:
        outcome = by_reference(ack, header["response"]["details"]["reference"])
        [coding] = outcome["issue"][0]["details"]["coding"]
        assert (coding["system"], coding["code"]) in issue_valueset()
        assert coding["code"] == VERDICTS[code]["issue"]

    verdict = read_receipt(ack)
    assert verdict is not None and verdict.refers_to == theirs["id"]
    assert (verdict.positive, verdict.response_code, verdict.resend) == (
        code == "ok",
        code,
        code == "transient-error",
    )
    assert verdict.issue_codes == tuple(filter(None, [VERDICTS[code].get("issue")]))
    assert not needs_acknowledgement(ack)  # never acknowledge an acknowledgement


def test_acknowledgement_is_deterministic():
    received = parse_fhir(MESSAGES[0].read_bytes())
    one = build_acknowledgement(received, "fatal-error", timestamp=AWARE, issue="MSG_BAD_SYNTAX")
    two = build_acknowledgement(received, "fatal-error", timestamp=AWARE, issue="MSG_BAD_SYNTAX")
    assert json.dumps(one) == json.dumps(two)
    ok = build_acknowledgement(received, timestamp=AWARE)
    assert ok["id"] != one["id"]
    coding = first(one, "OperationOutcome")["issue"][0]["details"]["coding"][0]
    assert coding["system"] == "http://terminology.hl7.org/CodeSystem/operation-outcome"


def test_acknowledgement_refuses_what_it_cannot_say():
    received = parse_fhir(MESSAGES[0].read_bytes())
    with pytest.raises(ValueError, match="time zone"):
        build_acknowledgement(received, timestamp=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="issue code or a text"):
        build_acknowledgement(received, "fatal-error", timestamp=AWARE)
    with pytest.raises(ValueError, match="ValueSet"):
        build_acknowledgement(received, "fatal-error", timestamp=AWARE, issue="MSG_MADE_UP")
    with pytest.raises(ValueError, match="response code"):
        build_acknowledgement(received, "AA", timestamp=AWARE)


@pytest.mark.parametrize("path", sorted(ACK_EXAMPLES.glob("*")), ids=lambda p: p.name)
def test_never_acknowledge_an_acknowledgement(path):
    bundle = parse_fhir(path.read_bytes())
    is_ack = first(bundle, "MessageHeader")["eventCoding"]["code"] == "acknowledgement-message"
    assert needs_acknowledgement(bundle) is not is_ack


# ---------------------------------------------------------------------------------------------
# Reading MedCom's own receipts
# ---------------------------------------------------------------------------------------------

CTL02_READ = CTL02_TEXT


@pytest.mark.parametrize("suffix", [".edi", ".xml"])
def test_reading_medcoms_ctl_receipts(suffix):
    def read(name: str):
        [parsed] = parse_messages((PAIRS / f"{name}{suffix}").read_bytes())
        verdict = read_receipt(parsed)
        assert verdict is not None and verdict.refers_to == "MEDREF01095"
        assert verdict.receipt_id == "KuvertNr1234"
        return verdict

    positive = read("CTL03_1")
    assert (positive.kind, positive.positive, positive.letters) == (
        "CTL03",
        True,
        ("1111FRE01095",),
    )
    assert positive.refusal_code is None and positive.sender == "5790000120420"
    negative = read("CTL02_1")
    assert (negative.kind, negative.positive, negative.letters) == (
        "CTL02",
        False,
        ("1111MAN01095",),
    )
    assert (negative.refusal_code, negative.text) == ("VER", CTL02_READ)
    vans = read("CTL01_1")
    assert (vans.kind, vans.positive, vans.refusal_code, vans.sender) == (
        "CTL01",
        False,
        "LOK",
        "DKKMDKMDNET",
    )
    assert vans.letters == ("1111FRE01095", "1111MAN01095")
    assert vans.text.endswith("Modtagerlokationsnummer har ikke kunnet identificeres.")


@pytest.mark.parametrize(
    ("name", "envelope", "letter"),
    [
        ("Flow2-XCTL03_Ex_from_FHIR_XDIS91.xml", "KuvNrerwerwe99", "Brevt23400929"),
        ("Flow2-XCTL03_Ex_from_FHIR_XBIN01.xml", "MEDBIN62529", "031120PWE62528"),
        ("Flow4-XCTL03_Ex_to_FHIR_XDIS91.xml", "KuvNrerwerwe00", "Brevt23400930"),
        ("Flow4-XCTL03_Ex_to_FHIR_XBIN01.xml", "MEDBIN62530", "031120PWE62529"),
    ],
)
def test_reading_medcoms_xctl03_conversion_examples(name, envelope, letter):
    verdict = read_receipt(parse_xml((CONVERSION / name).read_bytes()))
    assert verdict is not None and verdict.positive and verdict.kind == "CTL03"
    assert (verdict.refers_to, verdict.letters) == (envelope, (letter,))


@pytest.mark.parametrize(
    ("name", "refers_to", "code", "issues"),
    [
        (
            "Bundle-a8c041b8-c65a-4fde-a90f-962076918834",
            "42cb9200-f421-4d08-8391-7d51a2503cb4",
            "ok",
            (),
        ),
        (
            "Bundle-bc9535ef-ed94-4060-a928-7baddec7ee71",
            "53128d9b-cede-4c7f-8904-809eab322d7d",
            "fatal-error",
            ("MSG_VALUESET_VALUE_UNKNOWN",),
        ),
        (
            "Bundle-c9c2b2f6-0807-11ed-861d-0242ac120002",
            "53128d9b-cede-4c7f-8904-809eab322d7d",
            "transient-error",
            ("MSG_Mailbox_Out_Of_Operation",),
        ),
    ],
)
@pytest.mark.parametrize("suffix", [".json", ".xml"])
def test_reading_medcoms_fhir_acknowledgements(name, refers_to, code, issues, suffix):
    verdict = read_receipt(parse_fhir((ACK_EXAMPLES / f"{name}{suffix}").read_bytes()))
    assert verdict is not None and verdict.format == "fhir"
    assert (verdict.refers_to, verdict.response_code, verdict.issue_codes) == (
        refers_to,
        code,
        issues,
    )
    assert verdict.positive is (code == "ok") and verdict.resend is (code == "transient-error")


def test_reading_the_conversion_services_acknowledgement_and_non_receipts():
    [parsed] = parse_messages((CONVERSION / "Flow2-Acknowledgement_Ex_to_OIOXML.xml").read_bytes())
    verdict = read_receipt(parsed)
    assert verdict is not None and verdict.refers_to == "60098c38-6fe1-41ba-aa92-d4809022de88"
    for path in (PAIRS / "DIS01_1.edi", PAIRS / "DIS01_1.xml", MESSAGES[0]):
        [parsed] = parse_messages(path.read_bytes())
        assert read_receipt(parsed) is None
    empty = parse_fhir(
        (ACK_EXAMPLES / "Bundle-eb26be85-fdb7-454d-a980-95cba6d1745b.json").read_bytes()
    )
    assert read_receipt(empty) is None  # an empty-message is not an acknowledgement


def test_round_trip_edifact_receipts_we_build():
    received = parse_edifact(referral("1111FRE01095"))
    verdict = read_receipt(parse_edifact(build_ctl03(received, timestamp=WHEN)))
    assert verdict is not None and verdict.positive and verdict.kind == "CTL03"
    assert (verdict.refers_to, verdict.letters, verdict.sender) == (
        "MEDREF01095",
        ("1111FRE01095",),
        "5790000120420",
    )
    verdict = read_receipt(parse_edifact(build_ctl02(received, "MID", "modtager?", timestamp=WHEN)))
    assert verdict is not None and not verdict.positive
    assert (verdict.refusal_code, verdict.text) == ("MID", "modtager?")


def test_round_trip_xctl03():
    letter = parse_xml((CONVERSION / "Flow3-XDIS91_Ex_from_FHIR.xml").read_bytes())
    verdict = read_receipt(parse_xml(build_xctl03(letter, timestamp=WHEN)))
    assert verdict is not None and verdict.positive
    assert (verdict.refers_to, verdict.letters, verdict.sender) == (
        "KuvNrerwerwe00",
        ("Brevt23400930",),
        "5790000121441",
    )
