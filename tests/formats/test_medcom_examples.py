"""Every OIOXML letter and FHIR message MedCom publishes reads with the right metadata;
the OIOXML ones validate against MedCom's schemas, except exactly the published files that
are not valid (see the shared material's README), which report their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED
from lxml import etree

from engine.formats.envelope import envelope_kind
from engine.formats.fhir import parse_fhir
from engine.formats.sniff import parse_messages
from engine.formats.xml import NoSchema, SchemaCatalogue, parse_xml
from engine.standards import medcom

MEDCOM = SHARED / "medcom"
XML = sorted((MEDCOM / "xml").rglob("*.xml"))
FHIR = sorted((MEDCOM / "fhir" / "examples").rglob("*.json")) + sorted(
    (MEDCOM / "fhir" / "examples").rglob("*.xml")
)
# Published as they are (the shared README): not valid against their own schema.
KNOWN_INVALID = {
    "xrpt05_microbiology_examples/6092035418.xml",
    "xrpt05_microbiology_examples/6092035422.xml",
    "xrpt05_microbiology_examples/6092035424.xml",
    "conversion_service_oioxml_fhir/Flow1-XDIS91_Ex_to_FHIR.xml",
    "conversion_service_oioxml_fhir/Flow3-XBIN01_Ex_from_FHIR.xml",
}


def _letters() -> list[Path]:
    """The OIOXML letters among the XML examples (envelopes have their own tests)."""
    found = []
    for path in XML:
        try:
            root = parse_xml(path.read_bytes())
        except Exception:  # the deliberately broken SBDH sample
            continue
        if envelope_kind(root) is None and root.xpath("/*/*/*[local-name()='Letter']"):
            found.append(path)
    return found


LETTERS = _letters()


def _name(path: Path) -> str:
    return path.relative_to(MEDCOM / "xml").as_posix()


def test_the_examples_are_all_found() -> None:
    assert len(LETTERS) >= 15
    assert len(FHIR) >= 20


@pytest.mark.parametrize("path", LETTERS, ids=_name)
def test_oioxml_letter_metadata(path: Path) -> None:
    raw = path.read_bytes()
    [parsed] = parse_messages(raw)
    assert parsed.error is None
    meta = parsed.meta
    root = etree.fromstring(raw)  # read independently, by local names
    letter = root.xpath("/*/*[*[local-name()='Letter']]")[0]

    def text(step: str) -> str:
        return str(letter.xpath(f"string(*[local-name()='{step}'])")).strip()

    assert meta.format == "xml"
    assert (
        meta.type
        == str(
            letter.xpath("string(*[local-name()='Letter']/*[local-name()='StatisticalCode'])")
        ).strip()
    )
    assert meta.type.startswith("X") and medcom.message_type(meta.type[1:]) is not None
    assert (
        meta.control_id
        == str(
            letter.xpath("string(*[local-name()='Letter']/*[local-name()='Identifier'])")
        ).strip()
    )
    patient = "*[local-name()='Patient']"
    cpr = str(letter.xpath(f"string({patient}/*[local-name()='CivilRegistrationNumber'])"))
    other = str(letter.xpath(f"string({patient}/*[local-name()='AlternativeIdentifier'])"))
    assert meta.cpr == (cpr.replace("-", "") or other or None)
    assert meta.sender == str(
        letter.xpath("string(*[local-name()='Sender']/*[local-name()='EANIdentifier'])")
    )
    assert text("Letter")  # the letter has content


@pytest.mark.parametrize("path", LETTERS, ids=_name)
def test_oioxml_letters_validate_against_medcoms_schemas(path: Path) -> None:
    catalogue = SchemaCatalogue(MEDCOM / "xsd")
    root = parse_xml(path.read_bytes())
    try:
        errors = catalogue.errors(root)
    except NoSchema:
        return  # a namespace MedCom's material has no schema for: nothing to check
    if _name(path) in KNOWN_INVALID:
        assert errors, "published as invalid, so the validator must say why"
    else:
        assert errors == []


@pytest.mark.parametrize("path", FHIR, ids=lambda p: p.relative_to(MEDCOM / "fhir").as_posix())
def test_fhir_example_metadata(path: Path) -> None:
    raw = path.read_bytes()
    [parsed] = parse_messages(raw)
    assert parsed.error is None
    meta = parsed.meta
    bundle = parse_fhir(raw) if path.suffix == ".xml" else json.loads(raw)
    header = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MessageHeader"
    )
    assert (meta.format, meta.type, meta.control_id) == (
        "fhir",
        header["eventCoding"]["code"],
        header["id"],
    )
    assert meta.envelope_id == bundle["id"]
    assert meta.sender_sor and meta.sender.endswith(meta.sender_sor)
    assert meta.receiver_sor and meta.receiver.endswith(meta.receiver_sor)
    patients = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    if patients and patients[0].get("identifier"):  # CPR, or a replacement CPR
        assert meta.cpr == patients[0]["identifier"][0]["value"]
