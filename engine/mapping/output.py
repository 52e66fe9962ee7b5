"""A rules mapping's output: the target structure it starts from, and how it leaves.

Each target format is built as a structure, validated, then serialised once:
- `json`: as built;
- `fhir`: R4 structure (fhir.resources R4B), unique ids, references that resolve in the
  Bundle, no empty elements;
- `xml`: against the mapping's own `schema` if it names one, else the official schema
  for its namespace when `[standards.medcom] schema_dir` has one (a namespace without a
  schema is not an error);
- `hl7v2`: starts with MSH, and MSH-9, MSH-10 and MSH-12 have values;
- `edifact`: built as the tree engine.formats.edifact.tree reads (root `Interchange`),
  written with UNA, UNT's segment count and UNZ's message count filled in, then read
  back through the EDIFACT checks.
Validation can be switched off per mapping (`validate = false`), for partial outputs.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateError
from lxml import etree

from engine.config import ConfigError
from engine.formats import fhir
from engine.formats.edifact import EdifactError, parse_edifact
from engine.formats.edifact.tree import INTERCHANGE, from_tree, with_counts
from engine.formats.xml import NoSchema, SchemaCatalogue, serialise
from engine.formats.xml.parser import hardened_parser
from engine.mapping.base import MappingError, encode
from engine.mapping.hl7_target import Hl7Target
from engine.mapping.json_target import JsonTarget
from engine.mapping.shortcuts import Computed, compile_value
from engine.mapping.xml_target import XmlTarget
from engine.pipeline.view import MessageView

if TYPE_CHECKING:
    from engine.mapping.rules import RulesSection

MAX_PROBLEMS = 5  # an error message names the first few; the rest are counted


@dataclass(frozen=True)
class Output:
    spec: RulesSection
    schemas: SchemaCatalogue | None
    own_schema: etree.XMLSchema | None = None
    namespace: Computed | None = None  # target_namespace as a template, chosen per message

    def start(self, msg: MessageView) -> Any:
        target = self.spec.target
        if target in ("json", "fhir"):
            return JsonTarget()
        if target == "xml":
            namespace = self.spec.target_namespace
            if self.namespace is not None:
                namespace = self.namespace({"msg": msg})
            return XmlTarget(
                self.spec.root, namespace, self.spec.namespaces, line_break=self.spec.line_break
            )
        if target == "edifact":
            return XmlTarget(INTERCHANGE, "", {})
        if self.spec.start == "source":
            parsed = msg.parsed
            return Hl7Target(copy_of=parsed.segments() if parsed is not None else msg.text)
        return Hl7Target()

    def finish(self, target: Any, msg: MessageView, name: str) -> bytes:
        check = self.spec.validate_output
        if isinstance(target, XmlTarget) and self.spec.target == "edifact":
            return _edifact(target.tree(), name, check)
        if isinstance(target, XmlTarget):
            tree = target.tree()
            if check and self.own_schema is not None:
                if not self.own_schema.validate(tree):
                    errors = [f"{e.path}: {e.message}" for e in self.own_schema.error_log]
                    _refuse(name, "is not valid against its schema", errors)
            elif check and self.schemas is not None:
                # "no schema for namespace": nothing to check against, not an error
                with contextlib.suppress(NoSchema):
                    _refuse(name, "is not valid against its schema", self.schemas.errors(tree))
            return serialise(tree, self.spec.charset or "UTF-8")
        if isinstance(target, JsonTarget):
            if check and self.spec.target == "fhir":
                structure = target.structure()
                problems = fhir.bundle_problems(structure) if structure else ["nothing was mapped"]
                _refuse(name, "is not valid FHIR", problems or fhir.structure_problems(structure))
            return encode(target.serialise(), self.spec.charset or "utf-8", name)
        if check:
            _refuse(name, "is not a valid HL7 v2 message", target.header_problems())
        charset = self.spec.charset or msg.charset or "utf-8"
        return encode(target.serialise(), charset, name)


def _edifact(tree: etree._Element, name: str, check: bool) -> bytes:
    try:
        raw = from_tree(with_counts(tree))
    except (UnicodeEncodeError, ValueError) as exc:
        raise MappingError(
            f"mapping {name!r}: the output cannot be written as EDIFACT: {exc}"
        ) from None
    if check:
        try:
            parse_edifact(raw)
        except EdifactError as exc:
            raise MappingError(
                f"mapping {name!r}: the output is not valid EDIFACT: {exc.reason}"
            ) from None
    return raw


def _refuse(name: str, what: str, problems: list[str]) -> None:
    if not problems:
        return
    shown = "; ".join(problems[:MAX_PROBLEMS])
    more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
    raise MappingError(f"mapping {name!r}: the output {what}: {shown}{more}")


@functools.lru_cache(maxsize=8)
def schema_catalogue(folder: Path) -> SchemaCatalogue:
    """One catalogue per schema folder, shared by every mapping that validates against it."""
    try:
        return SchemaCatalogue(folder)
    except FileNotFoundError as exc:
        raise ConfigError(f"[standards.medcom] schema_dir: {exc}") from None


def start_output(spec: RulesSection, name: str, folder: Path, schema_dir: Path | None) -> Output:
    if spec.target == "xml" and not spec.root:
        raise ConfigError(f"mapping {name!r}: an XML target needs [mapping] root")
    if spec.target == "edifact" and spec.root not in ("", INTERCHANGE):
        raise ConfigError(f"mapping {name!r}: an EDIFACT target's root is {INTERCHANGE}")
    if spec.target not in ("xml", "edifact") and (
        spec.root or spec.target_namespace or spec.line_break or spec.schema_file
    ):
        raise ConfigError(
            f"mapping {name!r}: root, target_namespace, line_break and schema are for XML"
        )
    own = _own_schema(folder / spec.schema_file, name) if spec.schema_file else None
    schemas = schema_catalogue(schema_dir) if schema_dir and spec.target == "xml" else None
    namespace = None
    if "{{" in spec.target_namespace:
        try:
            namespace = compile_value(spec.target_namespace)
        except TemplateError as exc:
            raise ConfigError(f"mapping {name!r}: target_namespace: {exc}") from None
    return Output(spec, schemas, own, namespace)


def _own_schema(path: Path, name: str) -> etree.XMLSchema:
    try:
        return etree.XMLSchema(etree.parse(str(path), hardened_parser()))
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise ConfigError(f"mapping {name!r}: schema {path}: {exc}") from None
