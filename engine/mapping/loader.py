"""Load a mapping folder by the kind its mapping.toml declares."""

from __future__ import annotations

import tomllib
from pathlib import Path

from engine.config import ConfigError
from engine.mapping.base import Mapping
from engine.mapping.rules import load_rules
from engine.mapping.template import load_template


def load_mapping(mappings_dir: Path, name: str, schema_dir: Path | None = None) -> Mapping:
    """`schema_dir`: official XSDs that XML outputs are validated against, if configured."""
    folder = mappings_dir / name
    path = folder / "mapping.toml"
    if not path.is_file():
        raise ConfigError(f"mapping {name!r}: {path} not found")
    try:
        kind = tomllib.loads(path.read_text("utf-8")).get("mapping", {}).get("kind", "template")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if kind == "rules":
        return load_rules(folder, name, schema_dir)
    if kind == "template":
        return load_template(folder, name)
    raise ConfigError(f"{path}: mapping.kind: {kind!r} is not one of 'template', 'rules'")
