"""Declarative rule mappings: paths, concept maps, defaults, conditions, clear errors."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest
from conftest import FIXTURES, REPO

from engine.config import ConfigError
from engine.mapping.base import MappingError
from engine.mapping.loader import load_mapping
from engine.mapping.testing import convert

ADMIT = (FIXTURES / "hl7v2" / "adt_a01_admit.hl7").read_bytes()


def patient_mapping(tmp_path):
    folder = tmp_path / "adt-to-fhir-patient"
    shutil.copytree(REPO / "mappings" / "adt-to-fhir-patient", folder)
    return folder


def test_patient_resource_from_an_admission():
    mapping = load_mapping(REPO / "mappings", "adt-to-fhir-patient")
    patient = json.loads(convert(mapping, ADMIT))
    assert patient["resourceType"] == "Patient"
    assert patient["identifier"][0] == {"system": "urn:oid:1.2.208.176.1.2", "value": "1203521234"}
    assert (patient["gender"], patient["birthDate"]) == ("male", "1952-03-12")
    assert patient["id"] == json.loads(convert(mapping, ADMIT))["id"]  # stable


def test_an_unmapped_code_names_the_code_the_concept_map_and_the_rule(tmp_path):
    patient_mapping(tmp_path)
    mapping = load_mapping(tmp_path, "adt-to-fhir-patient")
    unknown_sex = ADMIT.replace(b"|19520312|M|", b"|19520312|X|")
    with pytest.raises(MappingError) as error:
        convert(mapping, unknown_sex)
    message = str(error.value)
    assert "rule 'gender' (from PID-8)" in message
    assert "code 'X' is not in concept map 'administrative-sex'" in message
    assert "administrative-sex.csv" in message


def test_a_default_catches_unmapped_codes(tmp_path):
    folder = patient_mapping(tmp_path)
    toml = folder / "mapping.toml"
    toml.write_text(
        toml.read_text().replace(
            'translate = "administrative-sex"',
            'translate = "administrative-sex"\ndefault = "unknown"',
        )
    )
    patient = json.loads(
        convert(
            load_mapping(tmp_path, "adt-to-fhir-patient"),
            ADMIT.replace(b"|19520312|M|", b"|19520312|X|"),
        )
    )
    assert patient["gender"] == "unknown"


def test_a_required_rule_without_a_value_fails_by_name(tmp_path):
    patient_mapping(tmp_path)
    nameless = ADMIT.replace(b"||Hansen^Jens^Peter^^^^L||", b"||||")
    with pytest.raises(MappingError, match=r"rule 'family-name' \(from PID-5.1\): no value"):
        convert(load_mapping(tmp_path, "adt-to-fhir-patient"), nameless)


def write_mapping(tmp_path, body: str) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "mapping.toml").write_text(textwrap.dedent(body))


def test_hl7_target_with_conditions(tmp_path):
    write_mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        target = "hl7v2"
        validate = false  # a fragment: no MSH-12
        [[rule]]
        name = "header"
        to = "MSH-9.1"
        value = "ADT"
        [[rule]]
        name = "event"
        from = "MSH-9.2"
        to = "MSH-9.2"
        [[rule]]
        name = "control-id"
        from = "MSH-10"
        to = "MSH-10"
        [[rule]]
        name = "name"
        from = "PID-5.1"
        to = "PID-5.1"
        value = "{{ value }} & co"
        [[rule]]
        name = "inpatient-only"
        from = "PV1-3.1"
        to = "PV1-3.1"
        when = "msg.get('PV1-2') == 'I'"
    """,
    )
    output = convert(load_mapping(tmp_path, "m"), ADMIT).decode()
    # segments stand in the order the rules first write them
    msh, pid, pv1 = output.rstrip("\r").split("\r")
    assert msh == "MSH|^~\\&|||||||ADT^A01|RHH-A01-000001"
    assert pid == "PID|||||Hansen \\T\\ co"  # escaped, not a subcomponent
    assert pv1 == "PV1|||MED"


def test_configuration_errors_are_caught_when_loading(tmp_path):
    write_mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        [[rule]]
        name = "a"
        to = "x"
        translate = "missing"
    """,
    )
    with pytest.raises(ConfigError, match="concept map 'missing'"):
        load_mapping(tmp_path, "m")
