"""adt-to-hospitalnotification: ADT^A01/A03 → MedCom HospitalNotification, against MedCom's own.

The outputs are compared on content with MedCom's examples: the admit with the example in
the shared examples folder, the discharge with the one in the HospitalNotification IG
package (the shared folder has no discharge example).
"""

from __future__ import annotations

import json
import tarfile
from typing import Any

import pytest
from conftest import FIXTURES, REPO, SHARED

from engine.formats.fhir import bundle_problems, structure_problems
from engine.mapping.base import MappingError
from engine.mapping.loader import load_mapping
from engine.mapping.testing import convert, run_tests

NAME = "adt-to-hospitalnotification"
TESTS = REPO / "mappings" / NAME / "tests"
ADMIT = (TESTS / "admit.input.hl7").read_bytes()
DISCHARGE = (TESTS / "discharge.input.hl7").read_bytes()

MEDCOM = SHARED / "medcom" / "fhir"
ADMIT_EXAMPLE = "Bundle-a5e5b880-c087-4055-b9ec-99108695f81d.json"  # admit-inpatient
DISCHARGE_EXAMPLE = "Bundle-f4aa42a4-86db-4e68-9b38-9dda0dfd5774.json"  # discharge-inpatient-home
IG_PACKAGE = "medcom.fhir.dk.hospitalnotification#3.0.2.tgz"

Bundle = dict[str, Any]


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(REPO / "mappings", NAME)


def medcom_example(name: str) -> Bundle:
    shared = MEDCOM / "examples" / "hospitalnotification" / name
    if shared.is_file():
        return json.loads(shared.read_text("utf-8"))
    package = MEDCOM / "packages" / IG_PACKAGE
    if not package.is_file():
        pytest.fail(f"MedCom example {name} not found in {shared.parent} or {package}")
    with tarfile.open(package) as archive:
        member = archive.extractfile(f"package/example/{name}")
        assert member is not None
        return json.loads(member.read())


def resources(bundle: Bundle, kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def profiles(bundle: Bundle) -> set[tuple[str, str]]:
    found = {("Bundle", p) for p in bundle["meta"]["profile"]}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        found |= {(resource["resourceType"], p) for p in resource["meta"]["profile"]}
    return found


def current_activity(bundle: Bundle) -> list[dict[str, str]]:
    """The activity of the Provenance for this message (not those for earlier messages)."""
    header = resources(bundle, "MessageHeader")[0]
    target = f"MessageHeader/{header['id']}"
    return [
        p["activity"]["coding"]
        for p in resources(bundle, "Provenance")
        if p["target"][0]["reference"] == target
    ]


def identifier_systems(bundle: Bundle, kind: str) -> set[str]:
    return {i["system"] for r in resources(bundle, kind) for i in r.get("identifier", [])}


def test_the_mapping_passes_its_own_tests():
    results = run_tests(REPO / "mappings", NAME)
    assert [r.case for r in results] == ["admit", "discharge"]
    assert all(r.passed for r in results), [r.problems for r in results]


@pytest.mark.parametrize(
    ("source", "example", "status", "activity"),
    [
        (ADMIT, ADMIT_EXAMPLE, "in-progress", "admit-inpatient"),
        (DISCHARGE, DISCHARGE_EXAMPLE, "finished", "discharge-inpatient-home"),
    ],
    ids=["admit", "discharge"],
)
def test_the_output_has_the_shape_and_codes_of_medcoms_example(
    mapping, source, example, status, activity
):
    ours, theirs = json.loads(convert(mapping, source)), medcom_example(example)

    assert ours["type"] == theirs["type"] == "message"
    assert {e["resource"]["resourceType"] for e in ours["entry"]} == {
        e["resource"]["resourceType"] for e in theirs["entry"]
    }
    assert profiles(ours) == profiles(theirs)
    header, their_header = (
        resources(ours, "MessageHeader")[0],
        resources(theirs, "MessageHeader")[0],
    )
    assert header["eventCoding"] == their_header["eventCoding"]
    assert header["destination"][0]["extension"] == their_header["destination"][0]["extension"]
    assert current_activity(ours) == current_activity(theirs)
    assert current_activity(ours)[0][0]["code"] == activity
    encounter, their_encounter = resources(ours, "Encounter")[0], resources(theirs, "Encounter")[0]
    assert encounter["status"] == their_encounter["status"] == status
    assert encounter["class"] == their_encounter["class"]
    assert identifier_systems(ours, "Patient") == identifier_systems(theirs, "Patient")
    assert identifier_systems(ours, "Organization") == identifier_systems(theirs, "Organization")
    # MedCom: the episode-of-care identifier is a hyphenated UUID, system = source endpoint
    episode = encounter["episodeOfCare"][0]["identifier"]
    assert episode["system"] == header["source"]["endpoint"]
    assert len(episode["value"].split("-")) == 5


def test_the_addresses_come_from_the_concept_maps(mapping):
    bundle = json.loads(convert(mapping, ADMIT))
    header = resources(bundle, "MessageHeader")[0]
    organisations = {o["id"]: o for o in resources(bundle, "Organization")}
    sender = organisations[header["sender"]["reference"].removeprefix("Organization/")]
    receiver = organisations[header["destination"][0]["receiver"]["reference"].split("/")[1]]
    assert sender["identifier"] == [
        {"system": "https://www.gs1.org/gln", "value": "5790001234567"},
        {"system": "urn:oid:1.2.208.176.1.1", "value": "456781000016009"},
    ]
    assert receiver["name"] == "Horsens Kommune"
    assert receiver["identifier"][1]["value"] == "789011000016004"
    assert header["destination"][0]["endpoint"] == "https://sor2.sum.dsdn.dk/#id=789011000016004"
    assert header["source"]["endpoint"] == "https://sor2.sum.dsdn.dk/#id=456781000016009"


def test_admit_and_discharge_of_one_stay_share_encounter_and_episode(mapping):
    admit, discharge = (json.loads(convert(mapping, m)) for m in (ADMIT, DISCHARGE))
    assert resources(admit, "Encounter")[0]["id"] == resources(discharge, "Encounter")[0]["id"]
    assert (
        resources(admit, "Encounter")[0]["episodeOfCare"]
        == resources(discharge, "Encounter")[0]["episodeOfCare"]
    )
    assert admit["id"] != discharge["id"]
    assert (
        resources(admit, "MessageHeader")[0]["id"] != resources(discharge, "MessageHeader")[0]["id"]
    )
    assert convert(mapping, ADMIT) == convert(mapping, ADMIT)  # stable ids


def test_an_unknown_sending_facility_names_the_code_the_concept_map_and_the_rule(mapping):
    unknown = ADMIT.replace(b"|EPJ|RHH|", b"|EPJ|XYZ|", 1)
    with pytest.raises(MappingError) as error:
        convert(mapping, unknown)
    message = str(error.value)
    assert "code 'XYZ' is not in concept map 'sender-organisation'" in message
    assert "sender-organisation.csv" in message
    assert "rule 'source-endpoint' (from MSH-4.1)" in message


def test_other_events_are_refused_by_name(mapping):
    update = (FIXTURES / "hl7v2" / "adt_a08_update_latin1.hl7").read_bytes()
    with pytest.raises(
        MappingError, match=r"rule 'header-event-code' \(from MSH-9.2\): code 'A08'"
    ):
        convert(mapping, update)


def test_a_discharge_not_home_is_refused(mapping):
    died = DISCHARGE.replace(b"|01||||||||", b"|20||||||||", 1)
    with pytest.raises(MappingError) as error:
        convert(mapping, died)
    assert "rule 'discharge-disposition' (from PV1-36): code '20'" in str(error.value)
    assert "discharge-disposition.csv" in str(error.value)


@pytest.mark.parametrize("source", [ADMIT, DISCHARGE], ids=["admit", "discharge"])
def test_every_reference_resolves_and_the_bundle_is_valid_r4(mapping, source):
    bundle = json.loads(convert(mapping, source))
    assert bundle_problems(bundle) == []
    assert structure_problems(bundle) == []
