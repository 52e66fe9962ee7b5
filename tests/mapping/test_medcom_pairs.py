"""MedCom's own EDIFACT↔XML reference pairs, both directions, through our two conversion
mappings: EDIFACT → XML equals MedCom's XML canonically, XML → EDIFACT equals MedCom's
EDIFACT segment by segment."""

from __future__ import annotations

import pytest
from conftest import REPO, SHARED

from engine.mapping.pairs import TO_EDIFACT, TO_XML, check_pair, load_or_reason, pair_stems

PAIRS = SHARED / "medcom" / "pairs"
SCHEMAS = SHARED / "medcom" / "xsd"
STEMS = pair_stems(PAIRS)


def test_every_reference_pair_is_found() -> None:
    assert len(STEMS) == 28


@pytest.fixture(scope="module")
def mappings() -> dict[str, object]:
    return {name: load_or_reason(REPO / "mappings", name, SCHEMAS) for name in (TO_XML, TO_EDIFACT)}


@pytest.mark.parametrize("stem", STEMS)
def test_edifact_to_xml_matches_medcom(stem: str, mappings: dict[str, object]) -> None:
    edi, xml = (PAIRS / f"{stem}.edi").read_bytes(), (PAIRS / f"{stem}.xml").read_bytes()
    result = check_pair(stem, "edifact → xml", mappings[TO_XML], edi, xml)  # type: ignore[arg-type]
    assert result.problems == []


@pytest.mark.parametrize("stem", STEMS)
def test_xml_to_edifact_matches_medcom(stem: str, mappings: dict[str, object]) -> None:
    edi, xml = (PAIRS / f"{stem}.edi").read_bytes(), (PAIRS / f"{stem}.xml").read_bytes()
    result = check_pair(stem, "xml → edifact", mappings[TO_EDIFACT], xml, edi)  # type: ignore[arg-type]
    assert result.problems == []
