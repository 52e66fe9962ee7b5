"""Declarative mappings: ordered, named rules from source paths to target paths.

    [[rule]]
    name = "sex"
    from = "PID-8"                 # a path in the source format's addressing
    to = "patient.gender"          # a path in the target format's addressing
    translate = "sex"              # conceptmaps/sex.csv; an unmapped code is an error...
    default = "unknown"            # ...unless the rule names a default
    value = "{{ value | lower }}"  # optional: computed with Jinja2 (sandboxed, strict)
    when = "msg.type == 'ADT^A01'" # optional: the rule applies only then
    required = true                # an empty result is an error naming the rule

Every error names the mapping, the rule and the source path, so the message that
becomes ERROR says exactly what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field

from engine.config import ConfigError
from engine.mapping.base import MappingBase, MappingError, SectionBase, encode, read_spec
from engine.mapping.conceptmap import Concept, ConceptMap, load_conceptmap
from engine.mapping.filters import FILTERS
from engine.mapping.targets import Hl7Target, JsonTarget
from engine.pipeline.view import MessageView

_ENV = SandboxedEnvironment(undefined=StrictUndefined)
_ENV.filters.update(FILTERS)
_ENV.globals.update(FILTERS)

TARGETS: dict[str, type[JsonTarget] | type[Hl7Target]] = {"json": JsonTarget, "hl7v2": Hl7Target}


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    source: str = Field(default="", alias="from")
    to: str
    value: str = ""
    when: str = ""
    translate: str = ""
    default: str | None = None
    required: bool = False


class RulesSection(SectionBase):
    kind: Literal["rules"]
    source: Literal["hl7v2"] = "hl7v2"
    target: Literal["json", "hl7v2"] = "json"
    start: Literal["empty", "source"] = "empty"  # source: patch a copy (hl7v2 → hl7v2)


class RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mapping: RulesSection
    rule: list[RuleSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    when: Any  # compiled expression, or None
    value: Template | None
    conceptmap: ConceptMap | None

    @property
    def where(self) -> str:
        return f"rule {self.spec.name!r}" + (
            f" (from {self.spec.source})" if self.spec.source else ""
        )


@dataclass(frozen=True)
class RulesMapping(MappingBase):
    name: str
    spec: RulesSection
    rules: tuple[Rule, ...]

    def apply(self, msg: MessageView) -> bytes:
        self.check_source(msg)
        target = self._start(msg)
        conditions: dict[str, bool] = {}  # rules often share a condition: evaluate it once
        for rule in self.rules:
            try:
                value = self._evaluate(rule, msg, conditions)
                if value is not None:
                    target.set(rule.spec.to, value)
            except MappingError:
                raise
            except (TemplateError, ValueError, LookupError, TypeError) as exc:
                raise MappingError(f"mapping {self.name!r}, {rule.where}: {exc}") from None
        charset = self.spec.charset or (msg.charset if self.target == "hl7v2" else "utf-8")
        return encode(target.serialise(), charset or "utf-8", self.name)

    def _start(self, msg: MessageView) -> JsonTarget | Hl7Target:
        if self.spec.start == "empty":
            return TARGETS[self.spec.target]()
        try:
            return Hl7Target(copy_of=msg.text)
        except ValueError as exc:
            raise MappingError(f"mapping {self.name!r}: {exc}") from None

    def _evaluate(self, rule: Rule, msg: MessageView, conditions: dict[str, bool]) -> Any:
        if rule.when is not None:
            if rule.spec.when not in conditions:
                conditions[rule.spec.when] = bool(rule.when(msg=msg))
            if not conditions[rule.spec.when]:
                return None
        value: Any = msg.get(rule.spec.source) if rule.spec.source else ""
        concept: Concept | None = None
        if rule.conceptmap is not None and value != "":
            concept = self._translate(rule, str(value))
            value = concept.code
        if value == "" and rule.spec.default is not None:
            value = rule.spec.default
        if rule.value is not None:
            value = rule.value.render(msg=msg, value=value, concept=concept)
        elif rule.spec.value:
            value = rule.spec.value  # a constant: no template to render
        if value == "":
            if rule.spec.required:
                raise MappingError(
                    f"mapping {self.name!r}, {rule.where}: no value, and the rule is required"
                )
            return None
        return value

    def _translate(self, rule: Rule, code: str) -> Concept:
        assert rule.conceptmap is not None
        concept = rule.conceptmap.get(code)
        if concept is not None:
            return concept
        if rule.spec.default is not None:
            return Concept(rule.spec.default)
        raise MappingError(
            f"mapping {self.name!r}, {rule.where}: code {code!r} is not in concept map "
            f"{rule.conceptmap.name!r} ({rule.conceptmap.path.name}) and the rule has no default"
        )


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def load_rules(folder: Path, name: str) -> RulesMapping:
    spec = read_spec(folder / "mapping.toml", RulesFile)
    maps: dict[str, ConceptMap] = {}
    rules = []
    for rule in spec.rule:
        where = f"mapping {name!r} rule {rule.name!r}"
        try:
            when = _ENV.compile_expression(rule.when) if rule.when else None
            value = _ENV.from_string(rule.value) if _is_template(rule.value) else None
        except TemplateError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if rule.translate and rule.translate not in maps:
            maps[rule.translate] = load_conceptmap(folder, rule.translate)
        rules.append(Rule(rule, when, value, maps.get(rule.translate)))
    names = [r.name for r in spec.rule]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"mapping {name!r}: rule names must be unique; repeated: {repeated}")
    if spec.mapping.start == "source" and (spec.mapping.source, spec.mapping.target) != (
        "hl7v2",
        "hl7v2",
    ):
        raise ConfigError(f"mapping {name!r}: start = 'source' needs hl7v2 → hl7v2")
    return RulesMapping(name, spec.mapping, tuple(rules))
