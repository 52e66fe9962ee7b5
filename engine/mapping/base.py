"""What every kind of mapping shares: the seam the router calls, errors, spec reading."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from engine.config import ConfigError, describe_errors
from engine.pipeline.view import MessageView

M = TypeVar("M", bound=BaseModel)


class MappingError(Exception):
    """A mapping failed for one message; the message becomes ERROR with this reason."""


class Mapping(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def target(self) -> str:
        """The output's format: hl7v2, json, xml, text."""
        ...

    @property
    def test_ignore(self) -> list[str]:
        """What `kanal mappings test` does not compare (e.g. MSH-7)."""
        ...

    def apply(self, msg: MessageView) -> bytes: ...


class SectionBase(BaseModel):
    """The `[mapping]` keys every kind has."""

    model_config = ConfigDict(extra="forbid")
    description: str = ""
    source: str = "any"  # the input format; "any" accepts every format
    target: str = "text"
    charset: str = ""  # output encoding; default: the message's own charset
    test_ignore: list[str] = []  # fields `kanal mappings test` does not compare, e.g. MSH-7


class MappingBase:
    """What a loaded mapping of any kind exposes besides its own `apply`."""

    name: str
    spec: SectionBase

    @property
    def target(self) -> str:
        return self.spec.target

    @property
    def test_ignore(self) -> list[str]:
        return self.spec.test_ignore

    def check_source(self, msg: MessageView) -> None:
        if self.spec.source != "any" and msg.format != self.spec.source:
            raise MappingError(
                f"mapping {self.name!r} expects {self.spec.source} input, got {msg.format}"
            )


def read_spec(path: Path, model: type[M]) -> M:
    """mapping.toml into its model; errors name the file and the key."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text("utf-8"))
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(path, exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def encode(text: str, charset: str, name: str) -> bytes:
    try:
        return text.encode(charset)
    except UnicodeEncodeError as exc:
        raise MappingError(f"mapping {name!r}: output not encodable as {charset}: {exc}") from None
