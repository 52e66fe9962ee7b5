"""Concept maps: `conceptmaps/<name>.csv` translating source codes to target codes.

Columns: source_code, target_code, and optionally source_system, target_system,
target_display. A row with a source_system matches only codes from that system (the
rule's `system` path gives it); a row without one matches the code from any system. A
code that is not in the map is an error unless the rule names a default: unmapped codes
never pass through silently.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from engine.config import ConfigError

REQUIRED = {"source_code", "target_code"}


@dataclass(frozen=True)
class Concept:
    code: str
    display: str = ""
    system: str = ""

    def __str__(self) -> str:
        return self.code


@dataclass(frozen=True)
class ConceptMap:
    name: str
    path: Path
    entries: dict[tuple[str, str], Concept]  # (source system or "", source code)

    def get(self, code: str, system: str = "") -> Concept | None:
        if system:
            found = self.entries.get((system, code))
            if found is not None:
                return found
        return self.entries.get(("", code))


def load_conceptmap(folder: Path, name: str) -> ConceptMap:
    path = folder / "conceptmaps" / f"{name}.csv"
    if not path.is_file():
        raise ConfigError(f"concept map {name!r}: {path} not found")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = REQUIRED - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{path}: missing column(s) {sorted(missing)}")
        entries: dict[tuple[str, str], Concept] = {}
        for line, row in enumerate(reader, start=2):
            code = (row.get("source_system") or "").strip(), row["source_code"].strip()
            if code in entries:
                raise ConfigError(f"{path}:{line}: source code {code[1]!r} appears twice")
            entries[code] = Concept(
                row["target_code"].strip(),
                (row.get("target_display") or "").strip(),
                (row.get("target_system") or "").strip(),
            )
    return ConceptMap(name, path, entries)
