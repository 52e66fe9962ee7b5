"""MedCom's EDIFACT↔XML reference pairs (`X.edi` and the `X.xml` it must become, and
back), run through our two conversion mappings: what `kanal mappings pairs` reports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.config import ConfigError
from engine.mapping.base import Mapping, MappingError
from engine.mapping.compare import differences
from engine.mapping.loader import load_mapping
from engine.mapping.testing import convert

TO_XML = "medcom-edifact-to-oioxml"
TO_EDIFACT = "oioxml-to-medcom-edifact"


@dataclass
class PairResult:
    pair: str  # the file stem: DIS01_1
    direction: str  # "edifact → xml" or "xml → edifact"
    problems: list[str] = field(default_factory=list)

    @property
    def message_type(self) -> str:
        return self.pair.split("_")[0]

    @property
    def passed(self) -> bool:
        return not self.problems


def pair_stems(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.edi") if (folder / f"{p.stem}.xml").is_file())


def check_pairs(
    folder: Path, mappings_dir: Path, schema_dir: Path | None = None
) -> Iterator[PairResult]:
    """Both directions for every pair in `folder`, one result at a time."""
    to_xml = load_or_reason(mappings_dir, TO_XML, schema_dir)
    to_edifact = load_or_reason(mappings_dir, TO_EDIFACT, schema_dir)
    for stem in pair_stems(folder):
        edi, xml = (folder / f"{stem}.edi").read_bytes(), (folder / f"{stem}.xml").read_bytes()
        yield check_pair(stem, "edifact → xml", to_xml, edi, xml)
        yield check_pair(stem, "xml → edifact", to_edifact, xml, edi)


def check_pair(
    stem: str, direction: str, mapping: Mapping | str, raw: bytes, want: bytes
) -> PairResult:
    result = PairResult(stem, direction)
    if isinstance(mapping, str):
        result.problems.append(mapping)
        return result
    try:
        got = convert(mapping, raw)
    except MappingError as exc:
        result.problems.append(str(exc))
        return result
    result.problems = differences(mapping.target, want, got, [])
    return result


def load_or_reason(mappings_dir: Path, name: str, schema_dir: Path | None) -> Mapping | str:
    """The mapping, or why it cannot be loaded (each pair then reports that)."""
    try:
        return load_mapping(mappings_dir, name, schema_dir)
    except ConfigError as exc:
        return str(exc)
