"""Filter expressions: sandboxed Jinja2 over `msg`, compiled once when channels load."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.config import ConfigError

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined)

Predicate = Callable[[Any], bool]


def compile_filter(expression: str, where: str) -> Predicate:
    """A predicate over a MessageView; an empty expression lets everything through."""
    if not expression.strip():
        return lambda _msg: True
    try:
        compiled = _ENV.compile_expression(expression, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise ConfigError(f"{where}: invalid filter expression {expression!r}: {exc}") from None

    def predicate(msg: Any) -> bool:
        return bool(compiled(msg=msg))

    return predicate
