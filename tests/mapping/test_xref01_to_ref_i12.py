"""xref01-to-ref-i12: a GP's MedCom XREF01 hospital referral as a REF^I12 for the EPJ."""

from __future__ import annotations

import pytest
from conftest import FIXTURES, REPO
from lxml import etree

from engine.formats import hl7v2
from engine.formats.hl7_strict import validate_strict
from engine.mapping.base import MappingError
from engine.mapping.loader import load_mapping
from engine.mapping.testing import convert, run_tests

NAME = "xref01-to-ref-i12"
NS = {"m": "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"}
REFERRAL = (FIXTURES / "oioxml" / "xref01_referral.xml").read_bytes()


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(REPO / "mappings", NAME)


def diagnoses(xml: bytes) -> list[str]:
    root = etree.fromstring(xml)
    path = "//m:Referral/m:Refer/m:DiagnoseCode | //m:Referral/m:ReferralAdditional/m:DiagnoseCode"
    return [node.text for node in root.xpath(path, namespaces=NS)]


def segments(message: hl7v2.HL7Message, name: str) -> list[int]:
    return message.segment_indexes(name)


def test_the_mapping_passes_its_own_tests():
    results = run_tests(REPO / "mappings", NAME)
    assert [r.case for r in results] == ["referral"]
    assert all(r.passed for r in results), [r.problems for r in results]


def test_the_test_input_is_the_fixture_byte_for_byte():
    copy = REPO / "mappings" / NAME / "tests" / "referral.input.xml"
    assert copy.read_bytes() == REFERRAL


def test_the_referral_becomes_a_ref_i12(mapping):
    output = convert(mapping, REFERRAL)
    message = hl7v2.parse(output)

    assert message.get("MSH-9") == "REF^I12^REF_I12"
    assert message.get("MSH-10") == "KUV2025031301"  # the envelope's identifier
    assert message.get("MSH-7") == "202503131550"
    assert message.get("RF1-6.1") == "REF2025031301"  # the letter's identifier
    assert message.get("RF1-2.1") == "S"  # akut
    assert message.get("RF1-5.1") == "I"  # indlaeggelse
    assert message.get("PID-3.1") == "1203521234"
    assert message.get("PID-3.4") == "CPR"
    assert message.get("PID-5.1") == "Hansen"
    assert message.get("PID-5.2") == "Jens Peter"

    dg1 = segments(message, "DG1")
    assert len(dg1) == len(diagnoses(REFERRAL)) == 3
    assert [message.get(f"DG1[{n}]-3.1") for n in (1, 2, 3)] == diagnoses(REFERRAL)
    assert [message.get(f"DG1[{n}]-6") for n in (1, 2, 3)] == ["A", "W", "W"]
    assert {message.get(f"DG1[{n}]-3.3") for n in (1, 2, 3)} == {"SKS"}

    # REF_I12's order, rules write segments in the order they come first
    names = message.segment_names()
    assert names[:6] == ["MSH", "RF1", "PRD", "PRD", "PID", "NK1"]
    assert names[6:9] == ["DG1"] * 3 and set(names[9:]) == {"NTE"}


def test_latin1_input_comes_out_as_utf8(mapping):
    with pytest.raises(UnicodeDecodeError):
        REFERRAL.decode("utf-8")  # the fixture is stored in ISO-8859-1
    output = convert(mapping, REFERRAL)
    text = output.decode("utf-8")
    message = hl7v2.parse(output)
    assert message.get("MSH-18") == "UNICODE UTF-8"
    assert message.get("PRD-3.1") == "Søndergade 5"
    assert "Utilpashed og træthed" in text
    assert "kreatinin 118 µmol/L" in text


def test_one_nte_per_line_of_the_clinical_text(mapping):
    message = hl7v2.parse(convert(mapping, REFERRAL))
    notes = [message.get(f"NTE[{n}]-3") for n in range(1, 14)]
    assert len(segments(message, "NTE")) == 13
    assert [message.get(f"NTE[{n}]-1") for n in range(1, 14)] == [str(n) for n in range(1, 14)]
    reason = notes.index(
        "Henvisningsårsag: Tiltagende åndenød og ødemer på underbenene gennem to uger. "
        "Mistanke om hjertesvigt."
    )
    assert notes[reason + 1] == "Ønskes indlagt til udredning og behandling."  # after <Break/>
    assert message.get(f"NTE[{reason + 1}]-4.1") == "1R"
    assert notes[-3:] == [
        "Aktuel medicin: Tabl. Metformin 1 g x 2 dgl.",
        "Tabl. Amlodipin 5 mg x 1 dgl.",
        "Tabl. Atorvastatin 40 mg x 1 dgl.",
    ]


def notes_of(output: bytes) -> list[str]:
    message = hl7v2.parse(output)
    return [message.get(f"NTE[{n}]-3") for n in range(1, len(segments(message, "NTE")) + 1)]


def test_a_section_wrapped_over_several_lines_in_the_xml_loses_no_text(mapping):
    # A newline written into the XML text (an editor's wrapping, indentation) is
    # whitespace: only <Break/> starts a new line, so it is one NTE, with all its words.
    medicine = b"<ActualMedicine>Tabl. Metformin 1 g x 2 dgl.<Break/>"
    wrapped = (
        b"<ActualMedicine>Tabl. Metformin 1 g\n            x 2 dgl. Tabl. Metoprolol\n"
        b"            50 mg x 1 dgl.<Break/>"
    )
    assert REFERRAL.count(medicine) == 1
    notes = notes_of(convert(mapping, REFERRAL.replace(medicine, wrapped)))
    assert notes[-3:] == [
        "Aktuel medicin: Tabl. Metformin 1 g x 2 dgl. Tabl. Metoprolol 50 mg x 1 dgl.",
        "Tabl. Amlodipin 5 mg x 1 dgl.",
        "Tabl. Atorvastatin 40 mg x 1 dgl.",
    ]
    assert notes[:-3] == notes_of(convert(mapping, REFERRAL))[:-3]


def test_breaks_at_the_ends_make_no_lines_and_a_blank_line_stays_an_empty_nte(mapping):
    cave = "<Cave>Ingen kendte lægemiddelallergier.</Cave>".encode("latin-1")
    assert REFERRAL.count(cave) == 1
    padded = cave.replace(b"<Cave>", b"<Cave><Break/> <Break/>").replace(
        b"</Cave>", b"<Break/><Break/></Cave>"
    )
    assert notes_of(convert(mapping, REFERRAL.replace(cave, padded))) == notes_of(
        convert(mapping, REFERRAL)
    )

    paragraphs = REFERRAL.replace(b"<Break/>Hustruen", b"<Break/><Break/>Hustruen")
    message = hl7v2.parse(convert(mapping, paragraphs))
    assert len(segments(message, "NTE")) == 14
    assert [message.get(f"NTE[{n}]-3") for n in (2, 3, 4)] == [
        "Supplerende oplysninger: Bor sammen med hustruen Birthe Hansen, tlf. 87654321.",
        "",
        "Hustruen kører ham til sygehuset.",
    ]
    assert [message.get(f"NTE[3]-{n}") for n in ("1", "2", "4.1")] == ["3", "P", "RE"]
    assert [message.get(f"NTE[{n}]-1") for n in range(1, 15)] == [str(n) for n in range(1, 15)]


def test_the_output_is_valid_hl7_v25_for_hl7apy(mapping):
    message = hl7v2.parse(convert(mapping, REFERRAL))
    assert validate_strict(message) == []


def test_an_unknown_priority_names_the_code_the_concept_map_and_the_rule(mapping):
    assert REFERRAL.count(b"<Priority>akut</Priority>") == 1
    variant = REFERRAL.replace(b"<Priority>akut</Priority>", b"<Priority>lynhurtigt</Priority>")
    with pytest.raises(MappingError) as error:
        convert(mapping, variant)
    message = str(error.value)
    assert "code 'lynhurtigt' is not in concept map 'priority' (priority.csv)" in message
    assert "rule 'priority' (from m:HospitalReferral/m:AdditionalInformation/m:Priority)" in message


def test_a_corrected_letter_is_a_modified_referral(mapping):
    variant = REFERRAL.replace(b"<StatusCode>nytbrev<", b"<StatusCode>rettetbrev<")
    assert hl7v2.parse(convert(mapping, variant)).get("MSH-9") == "REF^I13^REF_I12"


def test_medcoms_own_example_converts(mapping, shared):
    example = (shared / "medcom" / "pairs" / "REF01_1.xml").read_bytes()
    output = convert(mapping, example)
    message = hl7v2.parse(output)

    assert message.get("MSH-9") == "REF^I12^REF_I12"
    assert message.get("PID-3.1") == "2406444917"
    assert message.get("RF1-6.1") == "Brv5678"
    assert message.get("RF1-2.1") == "R"  # elektiv
    dg1 = segments(message, "DG1")
    assert len(dg1) == len(diagnoses(example)) == 2
    assert [message.get(f"DG1[{n}]-3.1") for n in (1, 2)] == ["DI10", "DE659"]
    assert message.get("DG1-3.2") == "Blodtryksforhøjelse af ukendt årsag."
    # the sender, the receiving department and the copy receiver of the answer
    assert [message.get(f"PRD[{n}]-1.1") for n in (1, 2, 3)] == ["RP", "RT", "CC"]
    assert message.get("NK1-33.1") == "1111111111"  # the relative's CPR
    assert validate_strict(message) == []
