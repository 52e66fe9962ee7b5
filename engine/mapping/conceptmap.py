"""Concept maps: `conceptmaps/<name>.csv` translating source codes to target codes.

Columns: source_code, target_code, and optionally source_system, target_system,
target_display. When the rule names the code's system (its `system` path), a row for
that source_system wins over a row without one; a rule without `system` matches on the
code alone (a code listed for several systems then needs the rule's `system`). A
code that is not in the map is an error unless the rule names a default: unmapped codes
never pass through silently.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from engine.config import ConfigError

REQUIRED = {"source_code", "target_code"}


STANDARD = {"source_code", "source_system", "target_code", "target_display", "target_system"}


@dataclass(frozen=True)
class Concept:
    code: str
    display: str = ""
    system: str = ""
    columns: tuple[tuple[str, str], ...] = ()  # any further CSV columns: `concept.gln`

    def __str__(self) -> str:
        return self.code

    def __getitem__(self, column: str) -> str:
        # Jinja looks up `concept.gln` as an item when no attribute has that name.
        for name, value in self.columns:
            if name == column:
                return value
        raise KeyError(f"the concept map has no column {column!r}")


@dataclass(frozen=True)
class ConceptMap:
    name: str
    path: Path
    entries: dict[str, dict[str, Concept]]  # source code → source system ("" = any) → row

    def get(self, code: str, system: str = "") -> Concept | None:
        rows = self.entries.get(code)
        if not rows:
            return None
        if system and system in rows:
            return rows[system]
        if "" in rows:
            return rows[""]
        return next(iter(rows.values())) if len(rows) == 1 and not system else None


def load_conceptmap(folder: Path, name: str) -> ConceptMap:
    path = folder / "conceptmaps" / f"{name}.csv"
    if not path.is_file():
        raise ConfigError(f"concept map {name!r}: {path} not found")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = REQUIRED - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{path}: missing column(s) {sorted(missing)}")
        entries: dict[str, dict[str, Concept]] = {}
        for line, row in enumerate(reader, start=2):
            code = row["source_code"].strip()
            system = (row.get("source_system") or "").strip()
            rows = entries.setdefault(code, {})
            if system in rows:
                raise ConfigError(f"{path}:{line}: source code {code!r} appears twice")
            rows[system] = Concept(
                row["target_code"].strip(),
                (row.get("target_display") or "").strip(),
                (row.get("target_system") or "").strip(),
                tuple((k, (v or "").strip()) for k, v in row.items() if k not in STANDARD),
            )
    return ConceptMap(name, path, entries)


def load_all_conceptmaps(folder: Path) -> dict[str, ConceptMap]:
    return {
        p.stem: load_conceptmap(folder, p.stem) for p in sorted(folder.glob("conceptmaps/*.csv"))
    }
