"""The minimal mapping: a sandboxed Jinja2 template over `msg` that renders the output."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, ValidationError

from engine.config import ConfigError, describe_errors
from engine.mapping.hl7_edit import with_fields
from engine.pipeline.view import MessageView


class MappingError(Exception):
    """A mapping failed for one message; the message becomes ERROR with this reason."""


class _MappingSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    source: Literal["hl7v2", "any"] = "any"
    target: Literal["hl7v2", "text", "json", "xml"] = "text"
    template: str = "template.j2"
    charset: str = ""  # output encoding; default: the message's own charset
    test_ignore: list[str] = []  # fields `kanal mappings test` does not compare, e.g. MSH-7


class _MappingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mapping: _MappingSection


@dataclass(frozen=True)
class TemplateMapping:
    name: str
    spec: _MappingSection
    render: Template

    def apply(self, msg: MessageView) -> bytes:
        if self.spec.source != "any" and msg.format != self.spec.source:
            raise MappingError(
                f"mapping {self.name!r} expects {self.spec.source} input, got {msg.format}"
            )
        try:
            text: str = self.render.render(msg=msg)
        except (TemplateError, ValueError, LookupError, TypeError) as exc:
            raise MappingError(f"mapping {self.name!r}: {exc}") from None
        if self.spec.target == "hl7v2":
            text = "\r".join(line for line in re.split(r"\r\n|\r|\n", text) if line) + "\r"
        charset = self.spec.charset or msg.charset or "utf-8"
        try:
            return text.encode(charset)
        except UnicodeEncodeError as exc:
            raise MappingError(
                f"mapping {self.name!r}: output not encodable as {charset}: {exc}"
            ) from None


def load_mapping(mappings_dir: Path, name: str) -> TemplateMapping:
    folder = mappings_dir / name
    path = folder / "mapping.toml"
    if not path.is_file():
        raise ConfigError(f"mapping {name!r}: {path} not found")
    try:
        spec = _MappingFile.model_validate(tomllib.loads(path.read_text("utf-8"))).mapping
    except ValidationError as exc:
        raise ConfigError(describe_errors(path, exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    env = SandboxedEnvironment(
        loader=FileSystemLoader(folder), undefined=StrictUndefined, keep_trailing_newline=True
    )
    env.globals["with_fields"] = with_fields
    try:
        template = env.get_template(spec.template)
    except TemplateError as exc:
        raise ConfigError(f"mapping {name!r}: template {spec.template}: {exc}") from None
    return TemplateMapping(name=name, spec=spec, render=template)
