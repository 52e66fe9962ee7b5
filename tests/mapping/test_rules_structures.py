"""Rules over repeating structures: for_each, via sub-mappings, let, XML/FHIR in and out."""

from __future__ import annotations

import json
import textwrap

import pytest
from conftest import FIXTURES, SHARED
from lxml import etree

from engine.config import ConfigError
from engine.mapping.base import MappingError
from engine.mapping.loader import load_mapping
from engine.mapping.testing import convert

ORU = (FIXTURES / "hl7v2" / "oru_r01_lab.hl7").read_bytes()
ADMIT = (FIXTURES / "hl7v2" / "adt_a01_admit.hl7").read_bytes()
XDIS91 = (FIXTURES / "oioxml" / "xdis91_correspondence.xml").read_bytes()
CARE = (FIXTURES / "fhir" / "carecommunication.json").read_bytes()
NS91 = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2006/07/01/"


def mapping(tmp_path, body: str, name: str = "m", schema_dir=None):
    (tmp_path / name).mkdir(exist_ok=True)
    (tmp_path / name / "mapping.toml").write_text(textwrap.dedent(body))
    return load_mapping(tmp_path, name, schema_dir)


def test_for_each_with_a_sub_mapping_builds_one_node_per_item(tmp_path):
    m = mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        target = "json"
        [[rule]]
        name = "results"
        for_each = "OBX"
        via = "observation"
        to = "results[+]"
        [via.observation]
        [[via.observation.rule]]
        name = "code"
        from = "OBX-3.1"
        to = "code"
        [[via.observation.rule]]
        name = "value"
        from = "OBX-5"
        to = "value"
        [[via.observation.rule]]
        name = "order"
        from = "OBR-4.2"
        to = "order"
        """,
    )
    results = json.loads(convert(m, ORU))["results"]
    assert [r["code"] for r in results] == [
        "NPU02319",
        "NPU19748",
        "NPU03429",
        "NPU03230",
        "NPU18016",
    ]
    assert results[1]["value"] == "48"
    assert {r["order"] for r in results} == {"Akut blodprøvepakke"}  # other segments: the message's


def test_field_repetitions_as_items_reusable_sub_mapping_and_let(tmp_path):
    m = mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        target = "json"
        [let]
        patient = "{{ uuid_for('patient', msg.cpr) }}"
        [[rule]]
        name = "id"
        to = "id"
        value = "{{ let.patient }}"
        [[rule]]
        name = "identifiers"
        for_each = "PID-3"
        via = "identifier"
        to = "identifier[+]"
        [via.identifier]
        description = "HL7 CX to FHIR Identifier"
        [[via.identifier.rule]]
        name = "value"
        from = "1"
        to = "value"
        [[via.identifier.rule]]
        name = "assigner"
        from = "4"
        to = "assigner.display"
        """,
    )
    out = json.loads(convert(m, ADMIT))
    assert out["identifier"] == [
        {"value": "1203521234", "assigner": {"display": "CPR"}},
        {"value": "H123456", "assigner": {"display": "RHH"}},
    ]
    assert out["id"] == json.loads(convert(m, ADMIT))["id"]


def test_xml_source_to_xml_target_with_line_breaks_and_schema_validation(tmp_path):
    m = mapping(
        tmp_path,
        f"""
        [mapping]
        kind = "rules"
        source = "xml"
        target = "xml"
        namespaces = {{ m = "{NS91}" }}
        root = "Letter"
        target_namespace = "urn:example:letter"
        line_break = "br"
        [[rule]]
        name = "cpr"
        from = "//m:Patient/m:CivilRegistrationNumber"
        to = "Patient/@cpr"
        required = true
        [[rule]]
        name = "names"
        for_each = "//m:Patient/m:PersonGivenName | //m:Patient/m:PersonSurnameName"
        to = "Patient/Name[+]"
        [[rule]]
        name = "text"
        from = "//m:Text01"
        to = "Body"
        """,
    )
    root = etree.fromstring(convert(m, XDIS91))
    ns = {"l": "urn:example:letter"}
    assert root.find("l:Patient", ns).get("cpr") == "1203521234"
    assert [n.text for n in root.findall("l:Patient/l:Name", ns)] == ["Hansen", "Jens Peter"]
    body = root.find("l:Body", ns)
    assert len(body.findall("l:br", ns)) >= 1  # <Break/> in, "\n" inside, <br/> out


def test_an_xml_output_that_breaks_its_schema_is_an_error_naming_the_problem(tmp_path):
    body = f"""
        [mapping]
        kind = "rules"
        source = "xml"
        target = "xml"
        namespaces = {{ m = "{NS91}" }}
        root = "Emessage"
        target_namespace = "{NS91}"
        [[rule]]
        name = "only-the-patient"
        from = "//m:Patient/m:CivilRegistrationNumber"
        to = "ClinicalEmail/Patient/CivilRegistrationNumber"
        """
    m = mapping(tmp_path, body, schema_dir=SHARED / "medcom" / "xsd")
    refused = r"not valid against its schema: .*ClinicalEmail.: This element is not expected"
    with pytest.raises(MappingError, match=refused):
        convert(m, XDIS91)
    unchecked = mapping(tmp_path, body, name="n")  # no schema_dir: nothing to check against
    assert b"CivilRegistrationNumber" in convert(unchecked, XDIS91)


def test_fhirpath_source_and_a_fhir_output_that_must_be_valid(tmp_path):
    good = mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        source = "fhir"
        target = "fhir"
        [[rule]]
        name = "type"
        to = "resourceType"
        value = "Patient"
        [[rule]]
        name = "cpr"
        from = "Bundle.entry.resource.ofType(Patient).identifier.value"
        to = "identifier[0].value"
        [[rule]]
        name = "given"
        for_each = "Bundle.entry.resource.ofType(Patient).name.given"
        to = "name[0].given[+]"
        """,
    )
    patient = json.loads(convert(good, CARE))
    assert patient == {
        "resourceType": "Patient",
        "identifier": [{"value": "1203521234"}],
        "name": [{"given": ["Jens", "Peter"]}],
    }
    bad = mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        source = "fhir"
        target = "fhir"
        [[rule]]
        name = "type"
        to = "resourceType"
        value = "Patient"
        [[rule]]
        name = "birth"
        to = "birthDate"
        value = "12 March 1952"
        """,
        name="bad",
    )
    with pytest.raises(MappingError, match="is not valid FHIR: birthDate"):
        convert(bad, CARE)


def test_references_that_do_not_resolve_are_refused(tmp_path):
    m = mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        source = "hl7v2"
        target = "fhir"
        [[rule]]
        name = "type"
        to = "resourceType"
        value = "Bundle"
        [[rule]]
        name = "bundle-type"
        to = "type"
        value = "collection"
        [[rule]]
        name = "entry"
        to = "entry[+].resource.resourceType"
        value = "Encounter"
        [[rule]]
        name = "subject"
        to = "entry[=].resource.subject.reference"
        value = "Patient/nowhere"
        [[rule]]
        name = "status"
        to = "entry[=].resource.status"
        value = "finished"
        [[rule]]
        name = "class"
        to = "entry[=].resource.class.code"
        value = "IMP"
        """,
    )
    with pytest.raises(MappingError, match="'Patient/nowhere' does not resolve in the Bundle"):
        convert(m, ADMIT)


def test_hl7_segments_made_per_item(tmp_path):
    m = mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        source = "hl7v2"
        target = "hl7v2"
        [[rule]]
        name = "header"
        to = "MSH-9"
        value = "ORU^R01^ORU_R01"
        [[rule]]
        name = "control"
        from = "MSH-10"
        to = "MSH-10"
        [[rule]]
        name = "version"
        to = "MSH-12"
        value = "2.5"
        [[rule]]
        name = "codes"
        for_each = "OBX"
        via = "obx"
        to = "OBX[+]"
        when = "item.get('OBX-8') != 'N'"
        [via.obx]
        [[via.obx.rule]]
        name = "set-id"
        from = "OBX-1"
        to = "OBX-1"
        [[via.obx.rule]]
        name = "code"
        from = "OBX-3.1"
        to = "OBX-3.1"
        """,
    )
    lines = convert(m, ORU).decode().rstrip("\r").split("\r")
    assert lines[1:] == ["OBX|1||NPU02319", "OBX|2||NPU19748", "OBX|5||NPU18016"]


def test_unknown_sub_mappings_and_loops_fail_when_loading(tmp_path):
    with pytest.raises(ConfigError, match=r"via 'nope' is not defined: add \[via.nope\]"):
        mapping(
            tmp_path,
            """
            [mapping]
            kind = "rules"
            [[rule]]
            name = "x"
            via = "nope"
            to = "x"
            """,
        )
    with pytest.raises(ConfigError, match="via 'a' uses itself"):
        mapping(
            tmp_path,
            """
            [mapping]
            kind = "rules"
            [[rule]]
            name = "x"
            via = "a"
            to = "x"
            [via.a]
            [[via.a.rule]]
            name = "again"
            via = "a"
            to = "y"
            """,
        )


def test_errors_inside_a_sub_mapping_name_the_path_to_the_rule(tmp_path):
    m = mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        target = "json"
        [[rule]]
        name = "results"
        for_each = "OBX"
        via = "observation"
        to = "results[+]"
        [via.observation]
        [[via.observation.rule]]
        name = "missing"
        from = "OBX-20"
        to = "x"
        required = true
        """,
    )
    with pytest.raises(MappingError) as error:
        convert(m, ORU)
    assert "via 'observation' rule 'missing' (from OBX-20): no value" in str(error.value)


def test_a_segment_item_selects_the_segments_of_its_group(tmp_path):
    two_groups = ORU.replace(b"NTE|1|L|", b"NTE|1|L|first note\rNTE|2|L|")
    m = mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        target = "json"
        [[rule]]
        name = "results"
        for_each = "OBX"
        via = "observation"
        to = "results[+]"
        [via.observation]
        [[via.observation.rule]]
        name = "code"
        from = "OBX-3.1"
        to = "code"
        [[via.observation.rule]]
        name = "notes"
        for_each = "NTE"
        from = "NTE-3"
        to = "notes[+]"
        """,
    )
    results = json.loads(convert(m, two_groups))["results"]
    assert [r.get("notes", []) for r in results] == [
        [],
        [],
        [],
        [],
        ["first note", "Let hæmolyse: kalium & kreatinin kontrolleres."],
    ]


def test_from_takes_the_first_path_with_a_value_and_lookup_reads_concept_maps(tmp_path):
    folder = tmp_path / "m" / "conceptmaps"
    folder.mkdir(parents=True)
    (folder / "facility.csv").write_text(
        "source_code,target_code,gln\nRHH,456781000016009,5790001234567\n"
    )
    m = mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        target = "json"
        [[rule]]
        name = "time"
        from = ["OBR-23", "OBR-22", "MSH-7"]
        to = "time"
        [[rule]]
        name = "gln"
        to = "gln"
        value = "{{ lookup('facility', msg.get('MSH-4')).gln }}"
        [[rule]]
        name = "unknown"
        to = "x"
        value = "{{ lookup('facility', 'XYZ') }}"
        when = "msg.type == 'ORU^R99'"
        """,
    )
    out = json.loads(convert(m, ORU))
    assert out == {"time": "20250314111000", "gln": "5790001234567"}
    with pytest.raises(
        MappingError,
        match=r"rule 'unknown': code 'XYZ' is not in concept map 'facility' \(facility.csv\)",
    ):
        convert(m, ORU.replace(b"ORU^R01^ORU_R01", b"ORU^R99^ORU_R01"))


def test_hl7_field_repetitions_are_appended_with_plus_and_filled_with_equals(tmp_path):
    m = mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        source = "hl7v2"
        target = "hl7v2"
        validate = false
        [[rule]]
        name = "ids"
        for_each = "PID-3"
        via = "id"
        to = "PID"
        [via.id]
        [[via.id.rule]]
        name = "value"
        from = "1"
        to = "PID-3[+].1"
        [[via.id.rule]]
        name = "authority"
        from = "4"
        to = "PID-3[=].4"
        """,
    )
    [pid] = convert(m, ADMIT).decode().rstrip("\r").split("\r")
    assert pid == "PID|||1203521234^^^CPR~H123456^^^RHH"


def test_values_can_be_written_as_json_booleans_and_numbers(tmp_path):
    m = mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        target = "json"
        [[rule]]
        name = "count"
        to = "count"
        value = "{{ source.select('OBX') | length }}"
        as = "integer"
        [[rule]]
        name = "value"
        from = "OBX[1]-5"
        to = "value"
        as = "decimal"
        [[rule]]
        name = "final"
        from = "OBR-25"
        to = "final"
        value = "{{ 'true' if value == 'F' else 'false' }}"
        as = "boolean"
        [[rule]]
        name = "known"
        to = "known"
        value = "{{ lookup('none', 'x', default='fallback') if false else 'yes' }}"
        """,
    )
    assert json.loads(convert(m, ORU)) == {"count": 5, "value": 7.2, "final": True, "known": "yes"}


def test_lines_of_formatted_text_are_items_and_wrapping_is_not_a_line_break(tmp_path):
    letter = XDIS91.replace(b"<Text01>", b"<Text01>First line\n   still first<Break/>", 1)
    m = mapping(
        tmp_path,
        f"""
        [mapping]
        kind = "rules"
        source = "xml"
        target = "json"
        namespaces = {{ m = "{NS91}" }}
        [[rule]]
        name = "lines"
        for_each = "//m:Text01"
        lines = true
        via = "line"
        to = "lines[+]"
        [via.line]
        [[via.line.rule]]
        name = "n"
        to = "n"
        value = "{{{{ index }}}}/{{{{ item.line }}}}"
        [[via.line.rule]]
        name = "text"
        to = "text"
        value = "{{{{ item.text() }}}}"
        """,
    )
    lines = json.loads(convert(m, letter))["lines"]
    assert lines[0] == {"n": "1/1", "text": "First line still first"}
    assert [line["n"] for line in lines] == [f"{i}/{i}" for i in range(1, len(lines) + 1)]
    assert len(lines) > 2
