"""A mapping's own tests: `tests/<case>.input.<ext>` beside `tests/<case>.expected.<ext>`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.formats.sniff import parse_messages
from engine.mapping.base import Mapping, MappingError
from engine.mapping.compare import differences
from engine.mapping.loader import load_mapping
from engine.pipeline.items import Incoming
from engine.pipeline.view import MessageView


@dataclass
class CaseResult:
    mapping: str
    case: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def convert(mapping: Mapping, raw: bytes) -> bytes:
    """Run one mapping on one input, as the router would; MappingError if it cannot."""
    parsed = parse_messages(raw)[0]  # a batch: its first message
    if parsed.error is not None:
        raise MappingError(f"the input cannot be read: {parsed.error}")
    incoming = Incoming(
        "convert", parsed.raw, parsed.meta, "file", time.time(), None, parsed.parsed
    )
    return mapping.apply(MessageView(incoming))


def run_tests(mappings_dir: Path, name: str, schema_dir: Path | None = None) -> list[CaseResult]:
    mapping = load_mapping(mappings_dir, name, schema_dir)
    folder = mappings_dir / name / "tests"
    results = []
    for source in sorted(folder.glob("*.input.*")):
        case = source.name.split(".input.")[0]
        results.append(_run_case(mapping, case, source, folder))
    if not results:
        results.append(
            CaseResult(
                name, "-", [f"no tests: add {folder}/<case>.input.<ext> and <case>.expected.<ext>"]
            )
        )
    return results


def _run_case(mapping: Mapping, case: str, source: Path, folder: Path) -> CaseResult:
    result = CaseResult(mapping.name, case)
    expected = sorted(folder.glob(f"{case}.expected.*"))
    if not expected:
        result.problems.append(f"no {case}.expected.* beside {source.name}")
        return result
    try:
        actual = convert(mapping, source.read_bytes())
    except MappingError as exc:
        result.problems.append(str(exc))
        return result
    result.problems = differences(
        mapping.target, expected[0].read_bytes(), actual, mapping.test_ignore
    )
    return result


def mapping_names(mappings_dir: Path) -> list[str]:
    return sorted(p.parent.name for p in mappings_dir.glob("*/mapping.toml"))
