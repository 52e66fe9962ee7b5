"""xdis01-to-rkkp: a MedCom XDIS01 discharge letter as Kanal's RKKP quality report."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO
from lxml import etree

from engine.mapping.base import MappingError
from engine.mapping.filters import uuid_for
from engine.mapping.loader import load_mapping
from engine.mapping.testing import convert, run_tests

NAME = "xdis01-to-rkkp"
FOLDER = REPO / "mappings" / NAME
DISCHARGE = (FOLDER / "tests" / "discharge.input.xml").read_bytes()
M = {"m": "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"}
Q = {"q": "urn:kanal:rkkp:quality-report:1"}
DIAGNOSE = "/m:Emessage/m:DischargeLetter/m:Diagnose"


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(REPO / "mappings", NAME)


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(FOLDER / "rkkp-quality-report.xsd")))


@pytest.fixture
def medcom_letter(shared: Path) -> bytes:
    """MedCom's own XDIS01 example (windows-1252), read where it lies, never copied."""
    return (shared / "medcom" / "pairs" / "DIS01_1.xml").read_bytes()


def report(mapping, raw: bytes) -> etree._Element:
    return etree.fromstring(convert(mapping, raw))


def texts(node: etree._Element, path: str, ns: dict[str, str]) -> list[str]:
    return [str(t).strip() for t in node.xpath(path, namespaces=ns)]


def test_the_mapping_passes_its_own_tests():
    results = run_tests(REPO / "mappings", NAME)
    assert [r.case for r in results] == ["discharge"]
    assert all(r.passed for r in results), [r.problems for r in results]


def test_the_expected_report_is_valid_against_our_schema(schema):
    expected = etree.parse(str(FOLDER / "tests" / "discharge.expected.xml"))
    assert schema.validate(expected), schema.error_log


@pytest.mark.parametrize("letter", ["discharge", "medcom"])
def test_the_output_is_valid_against_our_schema(mapping, schema, medcom_letter, letter):
    raw = DISCHARGE if letter == "discharge" else medcom_letter
    output = report(mapping, raw)
    assert schema.validate(output), schema.error_log
    assert etree.QName(output).text == "{urn:kanal:rkkp:quality-report:1}QualityReport"


@pytest.mark.parametrize("letter", ["discharge", "medcom"])
def test_diagnoses_and_procedures_are_those_of_the_letter(mapping, medcom_letter, letter):
    raw = DISCHARGE if letter == "discharge" else medcom_letter
    source = etree.fromstring(raw)
    # By the SKS classification itself (D = diagnosis), not by the mapping's routing.
    diagnoses = texts(
        source, f"{DIAGNOSE}/*[starts-with(m:DiagnoseCode, 'D')]/m:DiagnoseCode/text()", M
    )
    procedures = texts(
        source, f"{DIAGNOSE}/*[not(starts-with(m:DiagnoseCode, 'D'))]/m:DiagnoseCode/text()", M
    )
    assert diagnoses and procedures  # both inputs have some of each

    output = report(mapping, raw)
    assert texts(output, "/q:QualityReport/q:Diagnoses/q:Diagnosis/q:Code/text()", Q) == diagnoses
    assert texts(output, "/q:QualityReport/q:Procedures/q:Procedure/q:Code/text()", Q) == procedures
    assert len(diagnoses) + len(procedures) == len(source.xpath(f"{DIAGNOSE}/*", namespaces=M))


def test_types_dates_and_the_letter_reference(mapping):
    output = report(mapping, DISCHARGE)
    q = "/q:QualityReport"
    diagnoses = output.xpath(f"{q}/q:Diagnoses/q:Diagnosis", namespaces=Q)
    assert [texts(d, "q:Type/text()", Q)[0] for d in diagnoses] == ["A", "B"]
    procedures = output.xpath(f"{q}/q:Procedures/q:Procedure", namespaces=Q)
    assert [texts(p, "q:Type/text()", Q)[0] for p in procedures] == ["radiology", "operation"]
    assert texts(procedures[0], "q:DateTime/text()", Q) == ["2025-03-14T10:40:00+01:00"]
    assert texts(output, f"{q}/q:EpisodeOfCare/*/text()", Q) == [
        "V20250314001",
        "2025-03-14T09:25:00+01:00",
        "2025-03-20T11:00:00+01:00",
    ]
    assert texts(output, f"{q}/q:Source/q:Department/q:Identifier/@type", Q) == ["SOR"]
    assert texts(output, f"{q}/q:OriginalLetter/*/text()", Q) == [
        "XDIS01",
        "DIS2025032001",
        "KUV2025032001",
        "new",
        "2025-03-20T14:30:00+01:00",
    ]


def test_the_report_id_is_stable_and_made_from_the_letter(mapping):
    first = texts(report(mapping, DISCHARGE), "/q:QualityReport/q:ReportId/text()", Q)
    again = texts(report(mapping, DISCHARGE), "/q:QualityReport/q:ReportId/text()", Q)
    assert (
        first
        == again
        == [uuid_for("rkkp-quality-report", "5790001234567", "KUV2025032001", "DIS2025032001")]
    )
    resent = DISCHARGE.replace(b"KUV2025032001", b"KUV2025032002")
    assert texts(report(mapping, resent), "/q:QualityReport/q:ReportId/text()", Q) != first


def test_medcoms_own_letter_carries_over(mapping, medcom_letter):
    source = etree.fromstring(medcom_letter)
    letter = "/m:Emessage/m:DischargeLetter"
    output = report(mapping, medcom_letter)
    q = "/q:QualityReport"

    cpr = texts(source, f"{letter}/m:Patient/m:CivilRegistrationNumber/text()", M)
    assert texts(output, f"{q}/q:Patient/q:CivilRegistrationNumber/text()", Q) == cpr
    for step, element in (("Admission", "Admission"), ("Discharge", "Discharge")):
        date, time = (
            texts(source, f"{letter}/m:{step}/m:{p}/text()", M)[0] for p in ("Date", "Time")
        )
        # winter dates (November, January): Danish standard time
        wanted = [f"{date}T{time}:00+01:00"]
        assert texts(output, f"{q}/q:EpisodeOfCare/q:{element}/text()", Q) == wanted
    codes = texts(source, f"{DIAGNOSE}/*/m:DiagnoseCode/text()", M)
    mapped = texts(output, f"{q}/*/*/q:Code/text()", Q)
    assert mapped == codes
    # tillaegsdiagnose → "+", the sender's SHAK number, a corrected letter
    assert texts(output, f"{q}/q:Diagnoses/q:Diagnosis/q:Type/text()", Q) == ["A", "+", "+"]
    assert texts(output, f"{q}/q:Source/q:Department/q:Identifier/@type", Q) == ["SHAK"]
    assert texts(output, f"{q}/q:OriginalLetter/q:Status/text()", Q) == ["corrected"]
    assert not output.xpath(f"{q}/q:EpisodeOfCare/q:Identifier", namespaces=Q)  # none in it


def test_an_unknown_diagnosis_type_names_the_code_the_map_and_the_rule(mapping):
    unknown = DISCHARGE.replace(
        b"<DiagnoseDescriptionCode>bidiagnose</", b"<DiagnoseDescriptionCode>ukendt_type</"
    )
    assert unknown != DISCHARGE
    with pytest.raises(MappingError) as error:
        convert(mapping, unknown)
    message = str(error.value)
    assert "code 'ukendt_type' is not in concept map 'diagnosis-type'" in message
    assert "diagnosis-type.csv" in message
    assert "via 'diagnosis' rule 'type' (from m:DiagnoseDescriptionCode)" in message
    assert "has no default" in message


def test_a_letter_without_cpr_fails_naming_the_rule(mapping):
    without = DISCHARGE.replace(
        b"<CivilRegistrationNumber>1203521234</CivilRegistrationNumber>", b""
    )
    assert without != DISCHARGE
    with pytest.raises(MappingError) as error:
        convert(mapping, without)
    message = str(error.value)
    assert "rule 'cpr' (from m:DischargeLetter/m:Patient/m:CivilRegistrationNumber)" in message
    assert "required" in message


def test_a_code_that_is_not_sks_is_refused_by_our_schema(mapping):
    not_sks = DISCHARGE.replace(b"<DiagnoseCode>DE119<", b"<DiagnoseCode>E11.9<")
    with pytest.raises(MappingError) as error:
        convert(mapping, not_sks)
    assert "is not valid against its schema" in str(error.value)
    assert "E11.9" in str(error.value)


def test_a_summer_admission_has_the_summer_offset(mapping, schema):
    summer = DISCHARGE.replace(
        b"<Admission>\n      <Date>2025-03-14</Date>", b"<Admission>\n      <Date>2025-07-01</Date>"
    )
    assert summer != DISCHARGE
    output = report(mapping, summer)
    admission = "/q:QualityReport/q:EpisodeOfCare/q:Admission/text()"
    assert texts(output, admission, Q) == ["2025-07-01T09:25:00+02:00"]
    assert schema.validate(output), schema.error_log
