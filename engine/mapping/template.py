"""The minimal mapping: a sandboxed Jinja2 template over `msg` that renders the output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict

from engine.config import ConfigError
from engine.mapping.base import MappingBase, MappingError, SectionBase, encode, read_spec
from engine.mapping.filters import FILTERS
from engine.mapping.hl7_edit import hl7_lines, with_fields
from engine.pipeline.view import MessageView


class _MappingSection(SectionBase):
    kind: Literal["template"] = "template"
    source: Literal["hl7v2", "any"] = "any"
    target: Literal["hl7v2", "text", "json", "xml"] = "text"
    template: str = "template.j2"


class _MappingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mapping: _MappingSection


@dataclass(frozen=True)
class TemplateMapping(MappingBase):
    name: str
    spec: _MappingSection
    render: Template

    def apply(self, msg: MessageView) -> bytes:
        self.check_source(msg)
        try:
            text: str = self.render.render(msg=msg)
        except (TemplateError, ValueError, LookupError, TypeError) as exc:
            raise MappingError(f"mapping {self.name!r}: {exc}") from None
        if self.spec.target == "hl7v2":
            text = "\r".join(hl7_lines(text)) + "\r"
        return encode(text, self.spec.charset or msg.charset or "utf-8", self.name)


def load_template(folder: Path, name: str) -> TemplateMapping:
    spec = read_spec(folder / "mapping.toml", _MappingFile).mapping
    env = SandboxedEnvironment(
        loader=FileSystemLoader(folder), undefined=StrictUndefined, keep_trailing_newline=True
    )
    env.globals["with_fields"] = with_fields
    env.filters.update(FILTERS)
    try:
        template = env.get_template(spec.template)
    except TemplateError as exc:
        raise ConfigError(f"mapping {name!r}: template {spec.template}: {exc}") from None
    return TemplateMapping(name=name, spec=spec, render=template)
