"""The MedCom catalogue (standards/medcom/) against MedCom's own published material.

Every expectation is computed from the material (UNH segments, Letter elements, XSD
enumerations and patterns, FHIR terminology packages), not copied from the catalogue, so a
wrong or missing catalogue entry fails here."""

from __future__ import annotations

import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SHARED
from lxml import etree

from engine.formats.edifact.errors import REFUSAL_CODES
from engine.standards import medcom
from engine.standards.medcom import (
    CatalogueError,
    by_edifact,
    by_xml,
    catalogue,
    check_cpr,
    check_gln,
    check_sor,
    is_danish_gln,
    is_replacement_cpr,
    message_type,
    refusal,
    replacement_cpr_kind,
    sor_check_digit_ok,
)

MEDCOM = SHARED / "medcom"
PAIRS = sorted(p.stem for p in (MEDCOM / "pairs").glob("*.edi"))
XSD = MEDCOM / "xsd" / "oioxml"
XS = "{http://www.w3.org/2001/XMLSchema}"
TERMINOLOGY = MEDCOM / "fhir" / "packages" / "medcom.fhir.dk.terminology#2.0.2.tgz"
SAMPLE_FOLDERS = [
    "xml/regionh_samples",
    "xml/xrpt05_microbiology_examples",
    "xml/conversion_service_oioxml_fhir",
    "xml/edifact_converter_misc",
]


# ---------------------------------------------------------------------------------------------
# Reading the material
# ---------------------------------------------------------------------------------------------


def segments(path: Path) -> Iterator[list[list[str]]]:
    """EDIFACT segments as elements of components; enough for UNB, UNH and FTX (which come
    before any binary content and carry no release characters in the material)."""
    text = path.read_bytes().decode("latin-1")
    component, element, terminator = ":", "+", "'"
    if text.startswith("UNA"):
        component, element, terminator, text = text[3], text[4], text[8], text[9:]
    for segment in text.split(terminator):
        yield [e.split(component) for e in segment.strip("\r\n").split(element)]


def first_segment(path: Path, tag: str) -> list[list[str]]:
    return next(s for s in segments(path) if s[0] == [tag])


def unh(path: Path) -> tuple[str, str, str, str]:
    """(message type, directory, MedCom version code, statistical code) from UNH."""
    s009 = first_segment(path, "UNH")[2]
    return s009[0], ":".join(s009[1:4]), s009[4], first_segment(path, "UNH")[3][0]


class Letter:
    """Root namespace and the Letter of an OIOXML Emessage."""

    def __init__(self, path: Path) -> None:
        self.root = etree.parse(str(path)).getroot()
        self.namespace = etree.QName(self.root).namespace or ""
        ns = {"m": self.namespace}
        [self.element] = self.root.xpath("m:*[m:Letter]", namespaces=ns)
        self.letter_element = etree.QName(self.element).localname

        def text(name: str) -> str | None:
            found = self.element.find(f"m:Letter/m:{name}", ns)
            return None if found is None else (found.text or "").strip()

        self.version_code = text("VersionCode")
        self.statistical_code = text("StatisticalCode")
        self.type_code = text("TypeCode")


def emessages() -> list[Path]:
    paths = [p for folder in SAMPLE_FOLDERS for p in sorted((MEDCOM / folder).glob("*.xml"))]
    return [p for p in paths if etree.QName(etree.parse(str(p)).getroot()).localname == "Emessage"]


def schema_letters(folder: Path) -> Iterator[tuple[str, str, list[str], list[str]]]:
    """(namespace, letter element, VersionCode patterns, TypeCode patterns) of every letter
    in a schema folder's Letters group, following xs:include from Letters.xsd (the folders
    also hold schemas no Emessage can carry, e.g. PrescriptionXX.xsd)."""
    namespace = etree.parse(str(folder / "EMessage.xsd")).getroot().get("targetNamespace")
    roots, todo = {}, ["Letters.xsd"]
    while todo:
        name = todo.pop()
        if name not in roots and (folder / name).is_file():
            roots[name] = etree.parse(str(folder / name)).getroot()
            todo += [i.get("schemaLocation") for i in roots[name].findall(f"{XS}include")]
    types = {c.get("name"): c for r in roots.values() for c in r.findall(f"{XS}complexType")}
    elements = {
        e.get("name"): e.get("type") for r in roots.values() for e in r.findall(f"{XS}element")
    }
    group = roots["Letters.xsd"].find(f"{XS}group")
    for name in sorted({e.get("ref") for e in group.iter(f"{XS}element")}):
        letter = types[elements[name]].find(f".//{XS}element[@name='Letter']")
        # Prescription's Letter is an anonymous extension of PrescriptionLetterType.
        extension = letter.find(f".//{XS}extension")
        letter_type = types[letter.get("type") or extension.get("base")]

        def patterns(field: str, letter_type: etree._Element = letter_type) -> list[str]:
            path = f".//{XS}element[@name='{field}']//{XS}pattern"
            return [p.get("value") for p in letter_type.iterfind(path)]

        yield namespace, name, patterns("VersionCode"), patterns("TypeCode")


def package_json(package: Path, member: str) -> dict:
    with tarfile.open(package) as tar:
        handle = tar.extractfile(f"package/{member}")
        assert handle is not None
        return json.load(handle)


# ---------------------------------------------------------------------------------------------
# Message types
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pair", PAIRS)
def test_every_reference_pair_is_in_the_catalogue_in_both_forms(pair):
    message, directory, version, statistical = unh(MEDCOM / "pairs" / f"{pair}.edi")
    letter = Letter(MEDCOM / "pairs" / f"{pair}.xml")

    found = message_type(statistical)
    assert found is not None and found.code == statistical
    assert found.evidence == "pair"
    assert found.edifact is not None
    assert (found.edifact.message, found.edifact.directory) == (message, directory)
    assert version in found.edifact.version_codes  # seen, not merely inferred
    assert by_edifact(message, version) is found

    assert etree.QName(letter.root).localname == catalogue().xml_root
    assert by_xml(letter.namespace, letter.version_code) is found
    form = found.xml_form(letter.namespace, letter.version_code)
    assert form is not None and not form.inferred
    assert form.letter_element == letter.letter_element
    assert message_type(letter.statistical_code) is found
    if letter.type_code is not None:  # receipts (CTL) have no TypeCode
        assert letter.type_code == found.xml_statistical_code

    # The rule the catalogue's inferred version codes rest on.
    assert letter.version_code == f"X{version}"


@pytest.mark.parametrize("path", emessages(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_oioxml_sample_is_in_the_catalogue(path):
    letter = Letter(path)
    found = by_xml(letter.namespace, letter.version_code)
    assert found is not None
    assert found.xml_form(letter.namespace, letter.version_code).letter_element == (
        letter.letter_element
    )
    assert message_type(letter.statistical_code) is found


@pytest.mark.parametrize("folder", sorted(p.name for p in XSD.iterdir() if p.is_dir()))
def test_every_letter_the_schemas_declare_is_in_the_catalogue(folder):
    letters = list(schema_letters(XSD / folder))
    assert letters
    for namespace, element, versions, type_codes in letters:
        assert versions, element
        for version in versions:
            found = by_xml(namespace, version)
            assert found is not None, (element, version)
            form = found.xml_form(namespace, version)
            assert form.letter_element == element
            assert form.xsd is not None and (MEDCOM / form.xsd).is_file()
            for type_code in type_codes:
                assert message_type(type_code) is found
                assert found.xml_statistical_code == type_code


def test_statistical_codes_are_found_in_every_spelling():
    assert message_type("DIS01") is message_type("XDIS01") is catalogue().types["DIS01"]
    assert message_type(" xdis01 ") is catalogue().types["DIS01"]
    assert message_type("FDIS91").fhir_event_code == "care-communication-message"
    assert message_type("MCM:FDIS20#AdmissionInpatient").code == "DIS20"
    assert message_type("FCTL") is None  # the FHIR acknowledgement stands for all three CTL
    assert message_type("DIS99") is None
    assert by_edifact("MEDDIS", "D9999L") is None
    assert by_xml("urn:unknown", "XD0133L") is None


def test_fhir_counterparts_are_the_published_event_codes():
    event_codes = package_json(TERMINOLOGY, "CodeSystem-medcom-messaging-eventCodes.json")
    sor_edi = package_json(TERMINOLOGY, "CodeSystem-medcom-messaging-sorEdiSystem.json")
    fhir = catalogue().fhir
    assert set(fhir) == {c["code"] for c in event_codes["concept"]}
    assert {m.statistical_code for m in fhir.values() if m.statistical_code} == {
        c["code"] for c in sor_edi["concept"]
    }
    assert message_type("DIS91").fhir_event_code == "care-communication-message"
    assert message_type("CTL03").fhir_event_code == "acknowledgement-message"
    assert message_type("DIS20").fhir_event_code == "hospital-notification-message"
    for message in fhir.values():
        for code in message.counterparts:
            assert message_type(code).fhir_event_code == message.event_code


def test_every_cited_source_exists_in_the_material():
    for found in catalogue().types.values():
        for source in found.sources:
            assert (MEDCOM / source).is_file(), (found.code, source)


# ---------------------------------------------------------------------------------------------
# Refusal and acknowledgement codes
# ---------------------------------------------------------------------------------------------


def refuse_codes(xsd: Path) -> set[str]:
    root = etree.parse(str(xsd)).getroot()
    return {
        e.get("value")
        for element in root.iter(f"{XS}element")
        if element.get("name") == "RefuseCode"
        for e in element.iter(f"{XS}enumeration")
    }


@pytest.mark.parametrize("code", sorted(REFUSAL_CODES))
def test_every_engine_refusal_code_is_an_xml_refuse_code(code):
    enumeration = refuse_codes(XSD / "2005-08-07" / "NegativeReceipt.xsd")
    found = refusal(code)
    assert found.code == code
    assert found.xml_refuse_code in enumeration
    assert found.xml_refuse_code == REFUSAL_CODES[code]  # engine/formats/edifact/errors.py
    assert refusal(found.xml_refuse_code) is found


def test_the_refusal_codes_are_exactly_the_schema_enumeration():
    for schema in ("NegativeReceipt.xsd", "NegativeVansReceipt.xsd"):
        enumeration = refuse_codes(XSD / "2005-08-07" / schema)
        assert {r.xml_refuse_code for r in catalogue().refusals.values()} == enumeration
    assert set(catalogue().refusals) == set(REFUSAL_CODES)
    assert refusal("").code == "NC"  # an XML receipt without RefuseCode
    with pytest.raises(KeyError, match="unknown MedCom refusal code 'XYZ'"):
        refusal("XYZ")


@pytest.mark.parametrize("pair", ["CTL01_1", "CTL02_1"])
def test_the_receipt_pairs_use_the_catalogue_pairing(pair):
    ftx = first_segment(MEDCOM / "pairs" / f"{pair}.edi", "FTX")[1][0]
    root = etree.parse(str(MEDCOM / "pairs" / f"{pair}.xml")).getroot()
    [refuse_code] = {e.text for e in root.iter() if etree.QName(e).localname == "RefuseCode"}
    assert refusal(ftx).xml_refuse_code == refuse_code
    assert refusal(refuse_code).code == ftx
    assert refusal(ftx).evidence == "pair"


def test_acknowledgement_codes_are_the_published_ones():
    errors = package_json(TERMINOLOGY, "CodeSystem-medcom-acknowledgement-error-codes.json")
    details = package_json(TERMINOLOGY, "ValueSet-medcom-acknowledgement-issue-details.json")
    issues = catalogue().ack_issue_codes
    assert issues.system == errors["url"]
    assert {c: i.display for c, i in issues.codes.items()} == {
        c["code"]: c["display"] for c in errors["concept"]
    }
    [outcome] = [
        i for i in details["compose"]["include"] if i["system"].endswith("operation-outcome")
    ]
    assert list(issues.operation_outcome_codes) == [c["code"] for c in outcome["concept"]]
    assert set(catalogue().fhir_response_codes) == {"ok", "transient-error", "fatal-error"}
    assert [c.hl7v2_ack for c in catalogue().fhir_response_codes.values()] == ["AA", "AE", "AR"]


# ---------------------------------------------------------------------------------------------
# GLN
# ---------------------------------------------------------------------------------------------


def unb_glns() -> set[str]:
    """UNB sender and recipient ids with qualifier 14 (EAN) in every pair."""
    ids = set()
    for pair in PAIRS:
        unb = first_segment(MEDCOM / "pairs" / f"{pair}.edi", "UNB")
        ids |= {party[0] for party in unb[2:4] if party[1:2] == ["14"]}
    return {i for i in ids if len(i) == 13 and i.isdigit()}


def test_the_pairs_glns_pass_except_the_known_placeholders():
    glns = unb_glns()
    assert len(glns) > 20
    failing = {g for g in glns if check_gln(g)}
    assert failing == set(catalogue().identifiers.gln.invalid_in_material)
    assert all(is_danish_gln(g) for g in glns - failing)


@pytest.mark.parametrize(
    "gln", sorted(unb_glns() - set(medcom.catalogue().identifiers.gln.invalid_in_material))
)
def test_every_single_digit_typo_in_a_gln_fails(gln):
    assert check_gln(gln) == []
    for position in range(13):
        for digit in "0123456789":
            if digit != gln[position]:
                typo = gln[:position] + digit + gln[position + 1 :]
                assert check_gln(typo), typo


def test_gln_format_problems():
    assert check_gln("579000012042") == ["must be 13 digits, not 12 characters"]
    assert check_gln("DKKMDKMDNET")  # the VANS network's id in pairs/CTL01_1.edi
    assert check_gln("5790000120420 ")
    assert check_gln("5790000120421") == ["GS1 check digit is 1, expected 0"]
    assert not is_danish_gln("4000000000006")  # valid, but not from the Danish range
    assert check_gln("4000000000006") == []


# ---------------------------------------------------------------------------------------------
# CPR and replacement CPR
# ---------------------------------------------------------------------------------------------


def xml_values(paths: list[Path], element: str) -> set[str]:
    values = set()
    for path in paths:
        for e in etree.parse(str(path)).getroot().iter():
            if isinstance(e.tag, str) and etree.QName(e).localname == element and e.text:
                values.add(e.text.strip())
    return values


# str.isdigit() is true for these, so a naive check would take them for a CPR number.
FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "0101604896")


def modulus11_ok(cpr: str) -> bool:
    return (
        sum(int(d) * w for d, w in zip(cpr, [4, 3, 2, 7, 6, 5, 4, 3, 2, 1], strict=True)) % 11 == 0
    )


def test_every_cpr_in_the_pairs_is_plausible():
    cprs = xml_values(sorted((MEDCOM / "pairs").glob("*.xml")), "CivilRegistrationNumber")
    assert len(cprs) > 5
    for cpr in cprs:
        assert check_cpr(cpr) == [], cpr
    # Some fail modulus 11, and they must still pass: it is not enforced.
    assert any(not modulus11_ok(c) for c in cprs)


def test_an_impossible_birth_date_in_a_published_sample_is_flagged():
    [cpr] = xml_values(
        [MEDCOM / "xml/edifact_converter_misc/korr_x9134.xml"], "CivilRegistrationNumber"
    )
    assert check_cpr(cpr) == ["the month (digits 3-4) is not 01-12"]


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        ("0101604896", []),
        ("010160-4896", []),  # the printed form
        ("1111111111", []),  # fails modulus 11: not enforced
        ("2902001234", []),  # 29 February in a leap year
        ("2902011234", ["the day (digits 1-2) does not exist in that month"]),
        ("3104601234", ["the day (digits 1-2) does not exist in that month"]),
        ("0001601234", ["the day (digits 1-2) does not exist in that month"]),
        ("0113601234", ["the month (digits 3-4) is not 01-12"]),
        ("0000000000", ["0000000000 is the placeholder for an unknown CPR number"]),
        ("010160489", ["must be 10 digits (DDMMYY + 4), not 9 characters"]),
        ("01016048961", ["must be 10 digits (DDMMYY + 4), not 11 characters"]),
        (FULLWIDTH, ["must be 10 digits (DDMMYY + 4), not 10 characters"]),
        ("0101604A96", ["must be 10 digits (DDMMYY + 4), not 10 characters"]),
        ("0101601AB1", ["is a replacement CPR (erstatningsnummer), not a CPR number"]),
    ],
)
def test_cpr_format_and_date(value, problems):
    assert check_cpr(value) == problems
    assert not any(value in p for p in check_cpr(value) if value != "0000000000")


def test_the_published_replacement_cprs_are_recognised():
    [oioxml] = xml_values([MEDCOM / "pairs/REF06_1.xml"], "AlternativeIdentifier")
    assert is_replacement_cpr(oioxml) and replacement_cpr_kind(oioxml) == "x-ecpr"
    assert check_cpr(oioxml) == ["is a replacement CPR (erstatningsnummer), not a CPR number"]

    example = (
        MEDCOM / "fhir/examples/carecommunication/Bundle-0d5b3c18-fab6-4d93-9d88-c9c8abf1f18c.json"
    )
    patients = [e["resource"] for e in json.loads(example.read_text())["entry"]]
    [identifier] = [i for p in patients if p["resourceType"] == "Patient" for i in p["identifier"]]
    kind = replacement_cpr_kind(identifier["value"])
    assert kind is not None
    assert catalogue().identifiers.replacement_cpr.kinds[kind].fhir_system == identifier["system"]


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("0101607AB1", "x-ecpr"),
        ("0101605AB1", "d-ecpr"),
        ("0101600ZZ9", "d-ecpr"),
        ("0101602AB1", None),  # 2 is neither kind
        ("3201601AB1", None),  # no 32nd
        ("0101601ab1", None),  # capitals only
        ("0101604896", None),  # a CPR number
    ],
)
def test_replacement_cpr_kinds(value, kind):
    assert replacement_cpr_kind(value) == kind
    assert is_replacement_cpr(value) is (kind is not None)


# ---------------------------------------------------------------------------------------------
# SOR
# ---------------------------------------------------------------------------------------------


def test_every_sor_code_in_the_fhir_examples_passes():
    sor_system = catalogue().identifiers.sor.fhir_system
    codes = set()
    for path in (MEDCOM / "fhir" / "examples").glob("*/*.json"):
        for entry in json.loads(path.read_text())["entry"]:
            for identifier in entry["resource"].get("identifier", []):
                if identifier.get("system") == sor_system:
                    codes.add(identifier["value"])
    assert len(codes) >= 4
    for code in codes:
        assert check_sor(code) == [], code


def test_sor_format_problems_and_the_informational_check_digit():
    assert check_sor("1234567890") == ["must be 11-18 digits, not 10"]
    assert check_sor("1234567890123456789") == ["must be 11-18 digits, not 19"]
    assert check_sor("26516100001600X") == ["must be digits only"]
    assert sor_check_digit_ok("265161000016000")
    # MedCom's own test centre SOR code fails the check digit, which is why it is not enforced.
    assert not sor_check_digit_ok("359011000016000")
    assert check_sor("359011000016000") == []


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def test_a_missing_catalogue_says_where_it_looked(tmp_path):
    with pytest.raises(CatalogueError, match=r"standards/medcom/.*pip install -e"):
        medcom.load(tmp_path / "nowhere")


def test_an_unknown_key_in_the_catalogue_is_refused(tmp_path):
    for name in medcom.FILES:
        shutil.copy(medcom.CATALOGUE_DIR / name, tmp_path / name)
    text = (tmp_path / "message-types.toml").read_text()
    (tmp_path / "message-types.toml").write_text(
        text.replace("[types.DIS01]\n", '[types.DIS01]\ncolour = "red"\n')
    )
    with pytest.raises(CatalogueError, match="colour"):
        medcom.load(tmp_path)


def test_a_version_code_claimed_by_two_types_is_refused(tmp_path):
    for name in medcom.FILES:
        shutil.copy(medcom.CATALOGUE_DIR / name, tmp_path / name)
    text = (tmp_path / "message-types.toml").read_text()
    (tmp_path / "message-types.toml").write_text(
        text.replace('version_codes = ["D0233L"]', 'version_codes = ["D0133L"]')
    )
    with pytest.raises(CatalogueError, match="belongs to both DIS01 and DIS02"):
        medcom.load(tmp_path)


def test_the_catalogue_is_read_once():
    assert catalogue() is catalogue()
