"""XML and FHIR messages at receipt: hardened parsing, metadata, schemas, FHIR checks."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES, SHARED
from lxml import etree

from engine.formats import fhir
from engine.formats.sniff import parse_messages
from engine.formats.xml import NoSchema, SchemaCatalogue, XMLError, parse_xml

XSD = SHARED / "medcom" / "xsd"
CONVERSIONS = SHARED / "medcom" / "xml" / "conversion_service_oioxml_fhir"


def test_entities_are_never_expanded_and_nothing_is_fetched(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]><x>&e;</x>'
    ).encode()
    try:
        root = parse_xml(xxe)
    except XMLError:
        return  # refusing is as good as not expanding
    assert b"TOP-SECRET" not in etree.tostring(root)


def test_broken_xml_is_an_error_with_its_position_and_is_stored_as_such():
    parsed = parse_messages(b"<Emessage><Envelope></Emessage>")[0]
    assert parsed.error is not None and "line 1" in parsed.error


def test_oioxml_metadata_from_the_letter():
    meta = parse_messages((FIXTURES / "oioxml" / "xref01_referral.xml").read_bytes())[0].meta
    assert (meta.format, meta.type, meta.cpr) == ("xml", "XREF01", "1203521234")
    assert (meta.envelope_id, meta.control_id) == ("KUV2025031301", "REF2025031301")
    assert meta.sender == "5790000123453" and meta.receipt_requested
    assert meta.charset == "iso-8859-1"


def test_utf8_declared_as_latin1_is_read_as_utf8():
    # MedCom's published conversion examples declare iso-8859-1 but are UTF-8
    parsed = parse_messages((CONVERSIONS / "Flow1-XDIS91_Ex_to_FHIR.xml").read_bytes())[0]
    street = parsed.parsed.xpath("string(//*[local-name()='StreetName'])")
    assert street == "Vandværksvej 99"


def test_schema_catalogue_finds_the_schema_by_namespace_and_reports_errors():
    catalogue = SchemaCatalogue(XSD)
    for name in ("xref01_referral.xml", "xdis01_discharge.xml", "xdis91_correspondence.xml"):
        root = parse_messages((FIXTURES / "oioxml" / name).read_bytes())[0].parsed
        assert catalogue.errors(root) == [], name
    broken = parse_messages((CONVERSIONS / "Flow1-XDIS91_Ex_to_FHIR.xml").read_bytes())[0]
    errors = catalogue.errors(broken.parsed)
    assert errors and all("br" in e for e in errors)  # exactly MedCom's known quirk
    unknown = parse_xml(b'<Emessage xmlns="urn:oio:medcom:municipality:x"/>')
    with pytest.raises(NoSchema, match="no schema for namespace 'urn:oio:medcom:municipality:x'"):
        catalogue.errors(unknown)


def test_fhir_json_and_xml_read_to_the_same_structure_with_metadata():
    example = SHARED / "medcom" / "fhir" / "examples" / "hospitalnotification"
    for stem in ("Bundle-a5e5b880-c087-4055-b9ec-99108695f81d",):
        from_json = parse_messages((example / f"{stem}.json").read_bytes())[0]
        from_xml = parse_messages((example / f"{stem}.xml").read_bytes())[0]
        assert from_json.error is None and from_xml.error is None
        assert from_json.meta == from_xml.meta
        assert from_json.meta.type == "hospital-notification-message"
        assert from_json.meta.cpr and from_json.meta.receiver.startswith("https://sor2")


def test_fhir_checks_find_empty_elements_duplicates_and_dangling_references():
    bundle = json.loads((FIXTURES / "fhir" / "carecommunication.json").read_bytes())
    assert fhir.bundle_problems(bundle) == [] and fhir.structure_problems(bundle) == []
    bundle["entry"].append(dict(bundle["entry"][1]))
    bundle["entry"][0]["resource"]["focus"] = [{"reference": "Communication/gone"}]
    bundle["entry"][1]["resource"]["name"] = []
    problems = fhir.bundle_problems(bundle)
    assert any("appears twice" in p for p in problems)
    assert any("'Communication/gone' does not resolve" in p for p in problems)
    assert any(p.endswith("name: empty element") for p in problems)


def test_not_fhir_json_is_refused_with_a_reason():
    parsed = parse_messages(b'{"hello": "world"}')[0]
    assert parsed.error == "not a FHIR resource: no resourceType"
