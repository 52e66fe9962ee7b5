"""Computed values: Jinja2 templates, and shortcuts for the commonest one-expression ones.

Most rule values are one of `{{ value }}`, `{{ value | filter }}`, `{{ let.name }}` or
`{{ msg.field }}`. Rendering those through Jinja costs a context per call, several times
the work itself; these shortcuts give the same text (None renders as "None", as in
Jinja) and raise the same kind of error for a missing name. Anything else renders
through the sandboxed Jinja template.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jinja2 import StrictUndefined, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from engine.mapping.filters import FILTERS

Computed = Callable[[dict[str, Any]], str]  # the template's variables → its text

_ENV = SandboxedEnvironment(undefined=StrictUndefined)
_ENV.filters.update(FILTERS)

_WHOLE = re.compile(r"^\{\{\s*(.+?)\s*\}\}$", re.DOTALL)
_VALUE = re.compile(r"^value(?:\s*\|\s*([a-z_][a-z0-9_]*))?$")
_ATTRIBUTE = re.compile(r"^(let|msg)\.([a-z_][a-z0-9_]*)$")
_STRING_FILTERS: dict[str, Callable[[str], str]] = {
    "lower": str.lower,
    "upper": str.upper,
    "trim": str.strip,
}


def compile_value(text: str) -> Computed:
    """Raises jinja2.TemplateError for a template that does not compile."""
    fast = shortcut(text)
    if fast is not None:
        return fast
    template = _ENV.from_string(text)
    concat = _ENV.concat

    def render(variables: dict[str, Any]) -> str:
        # A shared context skips merging the environment's globals on every render (most
        # of Jinja's per-call cost); the filter functions come in as plain variables.
        context = template.new_context({**FILTERS, **variables}, shared=True)
        return str(concat(template.root_render_func(context)))

    return render


def compile_condition(text: str) -> Callable[..., Any]:
    return _ENV.compile_expression(text)


def shortcut(template: str) -> Computed | None:
    whole = _WHOLE.match(template)
    if whole is None or "{{" in whole.group(1) or "{%" in whole.group(1):
        return None
    expression = whole.group(1)
    value = _VALUE.match(expression)
    if value is not None:
        name = value.group(1)
        if name is None:
            return lambda v: _text(v["value"])
        function = FILTERS.get(name) or _STRING_FILTERS.get(name)
        if function is None:
            return None
        return lambda v: _text(function(v["value"]))
    attribute = _ATTRIBUTE.match(expression)
    if attribute is not None:
        scope, name = attribute.groups()
        if scope == "let":
            return lambda v: _text(_let(v["let"], name))
        return lambda v: _text(_attribute(v["msg"], name))
    return None


def _let(values: dict[str, str], name: str) -> str:
    if name not in values:
        raise UndefinedError(f"'dict object' has no attribute '{name}'")
    return values[name]


def _attribute(msg: Any, name: str) -> Any:
    try:
        return getattr(msg, name)
    except AttributeError:
        raise UndefinedError(f"'msg' has no attribute '{name}'") from None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
