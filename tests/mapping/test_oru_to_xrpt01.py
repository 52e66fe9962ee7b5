"""oru-to-xrpt01: ORU^R01 lab results as a MedCom XRPT01 laboratory report (OIOXML 2007-02-01)."""

from __future__ import annotations

import functools

import pytest
from conftest import FIXTURES, REPO, SHARED
from lxml import etree

from engine.formats.hl7v2 import parse
from engine.mapping.base import MappingError
from engine.mapping.loader import load_mapping
from engine.mapping.testing import convert, run_tests

NAME = "oru-to-xrpt01"
FOLDER = REPO / "mappings" / NAME
SCHEMAS = SHARED / "medcom" / "xsd"
NS = {"m": "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2007/02/01/"}

NPU_FIXTURE = FIXTURES / "hl7v2" / "oru_r01_lab.hl7"
LOCAL_FIXTURE = FIXTURES / "hl7v2" / "oru_r01_local_codes.hl7"
INPUTS = sorted(FOLDER.glob("tests/*.input.hl7"))
FIVE_ANALYSES = ["NPU02319", "NPU19748", "NPU03429", "NPU03230", "NPU18016"]


@functools.cache
def emessage_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "oioxml" / "2007-02-01" / "EMessage.xsd")))


@functools.cache
def unchecked_mapping():
    """The mapping without the engine's own schema check: validation below is independent."""
    return load_mapping(REPO / "mappings", NAME)


def results(output: bytes) -> list[etree._Element]:
    root = etree.fromstring(output)
    return root.findall("m:LaboratoryReport/m:LaboratoryResults/m:Result", NS)


def test_the_mapping_passes_its_own_tests(shared):
    outcome = run_tests(REPO / "mappings", NAME, schema_dir=SCHEMAS)
    assert {r.case for r in outcome} == {"npu-codes", "local-codes", "preliminary-text"}
    assert [r.problems for r in outcome if not r.passed] == []


def test_the_test_inputs_are_the_shared_fixtures():
    tests = FOLDER / "tests"
    assert (tests / "npu-codes.input.hl7").read_bytes() == NPU_FIXTURE.read_bytes()
    assert (tests / "local-codes.input.hl7").read_bytes() == LOCAL_FIXTURE.read_bytes()


@pytest.mark.parametrize("source", INPUTS, ids=lambda p: p.name)
def test_every_output_is_valid_against_the_official_schema(shared, source):
    output = convert(unchecked_mapping(), source.read_bytes())
    schema = emessage_schema()
    assert schema.validate(etree.fromstring(output)), schema.error_log
    assert output.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")


@pytest.mark.parametrize("expected", sorted(FOLDER.glob("tests/*.expected.xml")), ids=str)
def test_every_expected_file_is_valid_against_the_official_schema(shared, expected):
    schema = emessage_schema()
    assert schema.validate(etree.parse(str(expected))), schema.error_log


@pytest.mark.parametrize("source", [NPU_FIXTURE, LOCAL_FIXTURE], ids=lambda p: p.name)
def test_one_result_per_obx_each_with_its_npu_code(source):
    raw = source.read_bytes()
    obx_count = len(parse(raw).segment_indexes("OBX"))

    found = results(convert(unchecked_mapping(), raw))

    assert len(found) == obx_count == 5
    codes = [r.findtext("m:Analysis/m:AnalysisCode", namespaces=NS) for r in found]
    assert codes == FIVE_ANALYSES
    assert {r.findtext("m:Analysis/m:AnalysisCodeType", namespaces=NS) for r in found} == {"iupac"}


def test_local_codes_keep_the_labs_text_and_get_the_npu_name():
    first = results(convert(unchecked_mapping(), LOCAL_FIXTURE.read_bytes()))[0]
    assert first.findtext("m:Analysis/m:AnalysisShortName", namespaces=NS) == "Hæmoglobin"
    assert first.findtext("m:Analysis/m:AnalysisCompleteName", namespaces=NS) == (
        "B-Hæmoglobin;stofk."
    )


def test_an_unmapped_local_analysis_code_names_the_code_the_concept_map_and_the_rule():
    raw = LOCAL_FIXTURE.read_bytes().replace(b"|HB^H\xc3\xa6moglobin^L|", b"|HBA1C^HbA1c^L|")
    assert raw != LOCAL_FIXTURE.read_bytes()
    with pytest.raises(MappingError) as error:
        convert(unchecked_mapping(), raw)
    message = str(error.value)
    assert "code 'HBA1C' (system 'L') is not in concept map 'npu'" in message
    assert "npu.csv" in message
    assert "via 'result' rule 'analysis-code' (from OBX-3.1)" in message


def test_a_local_code_is_not_taken_for_an_npu_code_of_another_system():
    # "K" is the lab's potassium; an "K" claimed to be NPU is not in the map.
    raw = LOCAL_FIXTURE.read_bytes().replace(b"|K^Kalium^L|", b"|K^Kalium^NPU|")
    with pytest.raises(MappingError, match=r"code 'K' \(system 'NPU'\)"):
        convert(unchecked_mapping(), raw)


def test_an_unknown_ordering_provider_names_the_gp_concept_map():
    raw = LOCAL_FIXTURE.read_bytes().replace(b"|112233^Nielsen^Karen", b"|999999^Jensen^Ole")
    with pytest.raises(MappingError) as error:
        convert(unchecked_mapping(), raw)
    assert "rule 'receiver-ean' (from OBR-16.1): code '999999'" in str(error.value)
    assert "gp-ean.csv" in str(error.value)


def test_the_engine_refuses_an_output_the_schema_does_not_allow(shared):
    checked = load_mapping(REPO / "mappings", NAME, SCHEMAS)
    too_long = (FOLDER / "tests" / "preliminary-text.input.hl7").read_bytes()
    too_long = too_long.replace(b"||H\xc3\xa6molyse||", b"||H\xc3\xa6molyseret pr\xc3\xb8ve||")
    with pytest.raises(MappingError, match=r"not valid against its schema.*Value.*12"):
        convert(checked, too_long)
