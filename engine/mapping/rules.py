"""Declarative mappings: ordered, named rules from source paths to target paths.

    [let]                          # values computed once per message, `let.patient_id`
    patient_id = "{{ uuid_for('patient', msg.cpr) }}"

    [[rule]]
    name = "sex"
    from = "PID-8"                 # a path in the source format's addressing
    to = "patient.gender"          # a path in the target format's addressing
    translate = "sex"              # conceptmaps/sex.csv; an unmapped code is an error...
    default = "unknown"            # ...unless the rule names a default
    value = "{{ value | lower }}"  # optional: computed with Jinja2 (sandboxed, strict)
    when = "msg.type == 'ADT^A01'" # optional: the rule applies only then
    required = true                # an empty result is an error naming the rule

    [[rule]]
    name = "identifiers"
    for_each = "PID-3"             # once per item the path selects (segments, nodes...)
    via = "identifier"             # a sub-mapping, [via.identifier], paths relative to
    to = "identifier[+]"           # the item and to the new target node

Every error names the mapping, the rule (and the sub-mapping it sits in) and the source
path, so the message that becomes ERROR says exactly what to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from jinja2 import TemplateError
from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigError
from engine.mapping.base import MappingBase, MappingError, SectionBase, read_spec
from engine.mapping.conceptmap import Concept, ConceptMap, load_all_conceptmaps
from engine.mapping.output import Output, start_output
from engine.mapping.shortcuts import Computed, compile_condition, compile_value
from engine.mapping.sources import SourceDoc, document, lines_of, medcom_text_of
from engine.pipeline.view import MessageView


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    source: str | list[str] = Field(default="", alias="from")  # a list: the first with a value
    to: str
    for_each: str = ""
    lines: bool = False  # with for_each: each line of each item's text is an item
    # with for_each: each item's text as MedCom EDIFACT free text, five lines to an item
    split: Literal["", "medcom-text"] = ""
    # XML targets with a line_break element: false keeps newlines as they are (base64)
    line_breaks: bool = True
    via: str = ""
    value: str = ""
    when: str = ""
    translate: str = ""
    system: str = ""  # path to the code's system, for concept map rows with source_system
    default: str | None = None
    required: bool = False
    # JSON/FHIR targets: write the value as this JSON type (booleans, counts, sizes)
    as_type: Literal["string", "boolean", "integer", "decimal"] = Field("string", alias="as")


class RulesSection(SectionBase):
    kind: Literal["rules"]
    source: Literal["hl7v2", "xml", "fhir", "edifact"] = "hl7v2"
    target: Literal["json", "fhir", "xml", "hl7v2", "edifact"] = "json"
    # files (in the mapping's folder) with more [let] values and [via.*] sub-mappings
    include: list[str] = Field(default_factory=list)
    start: Literal["empty", "source"] = "empty"  # source: patch a copy (hl7v2 → hl7v2)
    # XPath prefixes for the source, and for prefixed names in an XML target
    namespaces: dict[str, str] = Field(default_factory=dict)
    root: str = ""  # XML target: the root element
    # XML target: the namespace of unprefixed names (a template may choose it per message)
    target_namespace: str = ""
    line_break: str = ""  # XML target: newlines in values become this empty element
    # XML target: an XSD of our own (relative to the mapping folder)
    schema_file: str = Field(default="", alias="schema")
    validate_output: bool = Field(default=True, alias="validate")


class ViaSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    rule: list[RuleSpec] = Field(min_length=1)


class IncludedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    let: dict[str, str] = {}
    via: dict[str, ViaSpec] = {}


class RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mapping: RulesSection
    let: dict[str, str] = {}
    via: dict[str, ViaSpec] = {}
    rule: list[RuleSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    where: str  # "rule 'x' (from PID-8)", inside a sub-mapping "via 'v' rule 'x' ..."
    when: Any  # compiled expression, or None
    value: Computed | None
    conceptmap: ConceptMap | None
    via: tuple[Rule, ...] | None
    constant: str | None  # a rule that only writes a fixed value: no work per message
    computed_only: bool  # a rule that only writes its template's text (no source, no when)


@dataclass(frozen=True)
class Scope:
    """What templates and conditions see besides `value`."""

    msg: MessageView
    source: SourceDoc  # the whole message
    let: dict[str, str]
    lookup: Callable[..., Concept]  # lookup('map', code[, system]): a concept map row
    index: int = 0  # the item's position (from 1) in the for_each it belongs to

    def variables(self, item: SourceDoc) -> dict[str, Any]:
        return {
            "msg": self.msg,
            "source": self.source,
            "item": item,
            "let": self.let,
            "lookup": self.lookup,
            "index": self.index,
        }


@dataclass(frozen=True)
class RulesMapping(MappingBase):
    name: str
    spec: RulesSection
    let: tuple[tuple[str, Computed | str], ...]
    rules: tuple[Rule, ...]
    output: Output
    conceptmaps: dict[str, ConceptMap]

    def apply(self, msg: MessageView) -> bytes:
        self.check_source(msg)
        try:
            source = document(msg.parsed, msg.format, self.spec.namespaces)
            target = self.output.start(msg)
        except ValueError as exc:
            raise MappingError(f"mapping {self.name!r}: {exc}") from None
        scope = Scope(msg, source, {}, self._lookup)
        for key, computed in self.let:
            try:
                scope.let[key] = (
                    computed if isinstance(computed, str) else self._render(computed, scope, source)
                )
            except (TemplateError, ValueError, LookupError, TypeError) as exc:
                raise MappingError(f"mapping {self.name!r}, let {key!r}: {exc}") from None
        self._run(self.rules, source, target, scope)
        return self.output.finish(target, msg, self.name)

    def _run(self, rules: tuple[Rule, ...], item: SourceDoc, target: Any, scope: Scope) -> None:
        conditions: dict[str, bool] = {}  # rules often share a condition: evaluate it once
        # One variables dict for the templates of this item; `value` and `concept` are set
        # before each render (renders are sequential and only read it).
        variables = scope.variables(item)
        for rule in rules:
            try:
                if rule.constant is not None:
                    target.set(rule.spec.to, rule.constant)
                elif rule.computed_only:
                    assert rule.value is not None
                    variables["value"], variables["concept"] = "", None
                    text = rule.value(variables)
                    if text:
                        target.set(rule.spec.to, text)
                    elif rule.spec.required:
                        raise MappingError(
                            f"mapping {self.name!r}, {rule.where}: no value, "
                            "and the rule is required"
                        )
                elif rule.via is not None:
                    nodes = self._via_sources(rule, item, scope, conditions)
                    for position, node in enumerate(nodes, 1):
                        inner = replace(scope, index=position) if rule.spec.for_each else scope
                        try:
                            child = target.child(rule.spec.to)
                            self._run(rule.via, node, child, inner)
                            child.close()
                        except MappingError as exc:
                            if len(nodes) == 1:
                                raise
                            # which of the items failed: "the 2nd Diagnose/Other", say
                            raise MappingError(
                                f"{exc} [item {position} of rule {rule.spec.name!r}]"
                            ) from None
                elif rule.spec.for_each:
                    for position, each in enumerate(_items(rule, item), 1):
                        inner = replace(scope, index=position)
                        if self._applies(rule, each, inner, None):
                            self._write(rule, each, target, inner.variables(each), own_text=True)
                elif self._applies(rule, item, scope, conditions):
                    self._write(rule, item, target, variables, own_text=False)
            except MappingError:
                raise
            except (TemplateError, ValueError, LookupError, TypeError) as exc:
                raise MappingError(f"mapping {self.name!r}, {rule.where}: {exc}") from None

    def _via_sources(
        self, rule: Rule, item: SourceDoc, scope: Scope, conditions: dict[str, bool]
    ) -> list[SourceDoc]:
        if rule.spec.for_each:
            nodes = [
                n
                for position, n in enumerate(_items(rule, item), 1)
                if self._applies(rule, n, replace(scope, index=position), None)
            ]
        elif not self._applies(rule, item, scope, conditions):
            return []
        else:
            nodes = _first_nodes(item, rule.spec.source) if rule.spec.source else [item]
        if not nodes and rule.spec.required:
            raise MappingError(
                f"mapping {self.name!r}, {rule.where}: nothing to map, and the rule is required"
            )
        return nodes

    def _applies(
        self, rule: Rule, item: SourceDoc, scope: Scope, conditions: dict[str, bool] | None
    ) -> bool:
        if rule.when is None:
            return True
        if conditions is None:  # per item of a for_each: no sharing
            return bool(rule.when(**scope.variables(item)))
        if rule.spec.when not in conditions:
            conditions[rule.spec.when] = bool(rule.when(**scope.variables(item)))
        return conditions[rule.spec.when]

    def _write(
        self, rule: Rule, item: SourceDoc, target: Any, variables: dict[str, Any], own_text: bool
    ) -> None:
        value: Any = _first_value(item, rule.spec.source) if rule.spec.source else ""
        if own_text and not rule.spec.source:
            value = item.text()
        concept: Concept | None = None
        if rule.conceptmap is not None and value != "":
            system = item.get(rule.spec.system) if rule.spec.system else ""
            concept = self._translate(rule, str(value), system)
            value = concept.code
        if value == "" and rule.spec.default is not None:
            value = rule.spec.default
        if value == "" and (rule.spec.source or own_text):
            value = None  # the source has nothing here: neither template nor constant runs
        elif rule.value is not None:
            variables["value"], variables["concept"] = value, concept
            value = rule.value(variables)
        elif rule.spec.value:
            value = rule.spec.value  # a constant: no template to render
        if value == "" or value is None:
            if rule.spec.required:
                raise MappingError(
                    f"mapping {self.name!r}, {rule.where}: no value, and the rule is required"
                )
            return
        if rule.spec.as_type != "string":
            value = _typed(str(value), rule.spec.as_type)
        if rule.spec.line_breaks:
            target.set(rule.spec.to, value)
        else:
            target.set(rule.spec.to, value, line_breaks=False)

    @staticmethod
    def _render(computed: Computed, scope: Scope, item: SourceDoc, **extra: Any) -> str:
        variables = scope.variables(item)
        variables.update(extra)
        return computed(variables)

    def _lookup(
        self, name: str, code: str, system: str = "", default: str | None = None
    ) -> Concept:
        """`lookup('sender-organisation', msg.get('MSH-4'))` in templates and conditions;
        an unmapped code is an error unless a `default` is given."""
        conceptmap = self.conceptmaps.get(name)
        if conceptmap is None:
            raise LookupError(f"lookup: no concept map {name!r} (conceptmaps/{name}.csv)")
        concept = conceptmap.get(str(code), system)
        if concept is None and default is not None:
            return Concept(default)
        if concept is None:
            raise LookupError(
                f"code {str(code)!r} is not in concept map {name!r} ({conceptmap.path.name})"
            )
        return concept

    def _translate(self, rule: Rule, code: str, system: str) -> Concept:
        assert rule.conceptmap is not None
        concept = rule.conceptmap.get(code, system)
        if concept is not None:
            return concept
        if rule.spec.default is not None:
            return Concept(rule.spec.default)
        code = f"{code!r} (system {system!r})" if system else repr(code)
        raise MappingError(
            f"mapping {self.name!r}, {rule.where}: code {code} is not in concept map "
            f"{rule.conceptmap.name!r} ({rule.conceptmap.path.name}) and the rule has no default"
        )


def _first_value(item: SourceDoc, source: str | list[str]) -> str:
    if isinstance(source, str):
        return item.get(source)
    for path in source:
        value = item.get(path)
        if value != "":
            return value
    return ""


def _typed(value: str, kind: str) -> bool | int | float:
    text = value.strip()
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError(f"{value!r} is not a boolean: write true or false")
        return text == "true"
    try:
        return int(text) if kind == "integer" else _decimal(text)
    except ValueError:
        wanted = "an integer" if kind == "integer" else "a number"
        raise ValueError(f"{value!r} is not {wanted}") from None


def _decimal(text: str) -> int | float:
    number = float(text)
    return int(number) if number.is_integer() and "." not in text else number


def _items(rule: Rule, item: SourceDoc) -> list[SourceDoc]:
    items = item.select(rule.spec.for_each)
    if rule.spec.split:
        return medcom_text_of(items)
    return lines_of(items) if rule.spec.lines else items


def _first_nodes(item: SourceDoc, source: str | list[str]) -> list[SourceDoc]:
    for path in [source] if isinstance(source, str) else source:
        nodes = item.select(path)
        if nodes:
            return nodes[:1]
    return []


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


class _Compiler:
    """Turns rule specs into rules: templates compiled, concept maps and sub-mappings loaded."""

    def __init__(self, folder: Path, name: str, vias: dict[str, ViaSpec]) -> None:
        self.folder, self.name, self.vias = folder, name, vias
        self.maps = load_all_conceptmaps(folder)

    def rules(self, specs: list[RuleSpec], inside: tuple[str, ...] = ()) -> tuple[Rule, ...]:
        names = [r.name for r in specs]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(
                f"mapping {self.name!r}: rule names must be unique; repeated: {repeated}"
            )
        return tuple(self.rule(spec, inside) for spec in specs)

    def rule(self, spec: RuleSpec, inside: tuple[str, ...]) -> Rule:
        prefix = "".join(f"via {v!r} " for v in inside)
        paths = spec.source if isinstance(spec.source, str) else " or ".join(spec.source)
        where = f"{prefix}rule {spec.name!r}" + (f" (from {paths})" if paths else "")
        label = f"mapping {self.name!r} {prefix}rule {spec.name!r}"
        try:
            when = compile_condition(spec.when) if spec.when else None
            value = compile_value(spec.value) if _is_template(spec.value) else None
        except TemplateError as exc:
            raise ConfigError(f"{label}: {exc}") from None
        if spec.translate and spec.translate not in self.maps:
            raise ConfigError(
                f"{label}: concept map {spec.translate!r} not found "
                f"({self.folder / 'conceptmaps' / spec.translate}.csv)"
            )
        via = None
        if spec.via:
            if spec.via not in self.vias:
                raise ConfigError(f"{label}: via {spec.via!r} is not defined: add [via.{spec.via}]")
            if spec.via in inside:
                raise ConfigError(f"{label}: via {spec.via!r} uses itself")
            if spec.value or spec.translate:
                raise ConfigError(f"{label}: a rule with via takes no value or translate")
            via = self.rules(self.vias[spec.via].rule, (*inside, spec.via))
        if (spec.lines or spec.split) and not spec.for_each:
            raise ConfigError(f"{label}: lines and split go with for_each")
        if spec.lines and spec.split:
            raise ConfigError(f"{label}: lines = true or split, not both")
        simple = not (spec.source or spec.for_each or spec.when or spec.translate or via)
        constant = spec.value if simple and spec.value and value is None else None
        computed_only = (
            simple and value is not None and spec.default is None and spec.as_type == "string"
        )
        conceptmap = self.maps.get(spec.translate)
        return Rule(spec, where, when, value, conceptmap, via, constant, computed_only)


def load_rules(folder: Path, name: str, schema_dir: Path | None = None) -> RulesMapping:
    spec = read_spec(folder / "mapping.toml", RulesFile)
    section = spec.mapping
    if section.start == "source" and (section.source, section.target) != ("hl7v2", "hl7v2"):
        raise ConfigError(f"mapping {name!r}: start = 'source' needs hl7v2 → hl7v2")
    lets, vias = _with_included(folder, name, section.include, spec.let, spec.via)
    compiler = _Compiler(folder, name, vias)
    rules = compiler.rules(spec.rule)
    let: list[tuple[str, Computed | str]] = []
    for key, text in lets.items():
        try:
            let.append((key, compile_value(text) if _is_template(text) else text))
        except TemplateError as exc:
            raise ConfigError(f"mapping {name!r} let {key!r}: {exc}") from None
    output = start_output(section, name, folder, schema_dir)
    return RulesMapping(name, section, tuple(let), rules, output, compiler.maps)


def _with_included(
    folder: Path, name: str, files: list[str], let: dict[str, str], via: dict[str, ViaSpec]
) -> tuple[dict[str, str], dict[str, ViaSpec]]:
    """The mapping's own [let] and [via.*] with those of its included files (after its own
    [let], in the order listed); a name defined twice is an error."""
    lets, vias = dict(let), dict(via)
    for file in files:
        path = (folder / file).resolve()
        if folder.resolve() not in path.parents:
            raise ConfigError(f"mapping {name!r}: include {file!r} is outside the mapping's folder")
        if not path.is_file():
            raise ConfigError(f"mapping {name!r}: include {file!r} not found ({path})")
        part = read_spec(path, IncludedFile)
        twice = sorted((set(lets) & set(part.let)) | (set(vias) & set(part.via)))
        if twice:
            raise ConfigError(f"mapping {name!r}: {file}: {twice} defined twice")
        lets.update(part.let)
        vias.update(part.via)
    return lets, vias
