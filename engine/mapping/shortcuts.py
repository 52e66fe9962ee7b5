"""Computed values and conditions: Jinja2 syntax, compiled to Python closures.

Rendering a template through Jinja costs a context per call, several times the work of
the usual one-line value (`{{ value | hl7_to_fhir_date }}`, `Organization/{{ let.id }}`,
`{{ item.get('OBR-16.3')[:1] }}`). Templates made only of text and expressions in the
everyday subset (names, attributes, items and slices, calls, filters from the filter
library, `~`, `+`, comparisons, `and`/`or`/`not`, `x if c else y`, literals) are compiled
from Jinja's own parse tree into closures. They keep the sandbox's rules: no attribute
starting with `_`, no `format`, a missing name or attribute is an error (StrictUndefined),
values print as Jinja prints them. Anything else (`{% if %}`, `{% set %}`, tests such as
`is defined`, other filters) renders through the sandboxed Jinja template.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from jinja2 import StrictUndefined, TemplateError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from engine.mapping.filters import FILTERS

Computed = Callable[[dict[str, Any]], str]  # the template's variables → its text
Evaluate = Callable[[dict[str, Any]], Any]

_ENV = SandboxedEnvironment(undefined=StrictUndefined)
_ENV.filters.update(FILTERS)

_FILTERS: dict[str, Callable[..., Any]] = {
    **FILTERS,
    "lower": lambda v: str(v).lower(),
    "upper": lambda v: str(v).upper(),
    "trim": lambda v: str(v).strip(),
    "length": len,
    "string": str,
    "join": lambda v, d="": str(d).join(str(x) for x in v),
    "replace": lambda v, old, new: str(v).replace(old, new),
}
_UNSAFE = frozenset({"format", "format_map", "mro"})
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "gt": operator.gt,
    "lteq": operator.le,
    "gteq": operator.ge,
    "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    nodes.Add: operator.add,
    nodes.Sub: operator.sub,
    nodes.Mul: operator.mul,
    nodes.Mod: operator.mod,
    nodes.FloorDiv: operator.floordiv,
    nodes.Div: operator.truediv,
}


COMPILE = True  # False: everything renders through Jinja (tests compare the two)


class _Unsupported(Exception):
    """Outside the compiled subset: the template renders through Jinja instead."""


def compile_value(text: str) -> Computed:
    """Raises jinja2.TemplateError for a template that does not compile."""
    tree = _ENV.parse(text)
    if not COMPILE:
        return _jinja(text)
    try:
        return _compiled_template(tree)
    except _Unsupported:
        return _jinja(text)


def compile_condition(text: str) -> Evaluate:
    """A `when` expression: called with the variables as keywords, returns its value."""
    tree = _ENV.parse("{{ " + text + " }}")
    try:
        if not COMPILE:
            raise _Unsupported
        [output] = tree.body
        if not isinstance(output, nodes.Output) or len(output.nodes) != 1:
            raise _Unsupported
        evaluate = _expression(output.nodes[0])
        return lambda **variables: evaluate(variables)
    except (_Unsupported, ValueError):
        expression = _ENV.compile_expression(text)
        return lambda **variables: expression(**{**FILTERS, **variables})


def _jinja(text: str) -> Computed:
    template = _ENV.from_string(text)
    concat = _ENV.concat

    def render(variables: dict[str, Any]) -> str:
        # A shared context skips merging the environment's globals on every render; the
        # filter functions come in as plain variables.
        context = template.new_context({**FILTERS, **variables}, shared=True)
        return str(concat(template.root_render_func(context)))

    return render


def _compiled_template(tree: nodes.Template) -> Computed:
    parts: list[Evaluate] = []
    for statement in tree.body:
        if not isinstance(statement, nodes.Output):
            raise _Unsupported
        for node in statement.nodes:
            if isinstance(node, nodes.TemplateData):
                parts.append(_constant(node.data))
            else:
                parts.append(_as_text(_expression(node)))
    if len(parts) == 1:
        return parts[0]
    return lambda variables: "".join([part(variables) for part in parts])


def _constant(value: Any) -> Evaluate:
    return lambda _: value


def _as_text(evaluate: Evaluate) -> Evaluate:
    def text(variables: dict[str, Any]) -> str:
        value = evaluate(variables)
        return value if type(value) is str else str(value)

    return text


def _expression(node: nodes.Node) -> Evaluate:
    if isinstance(node, nodes.Const):
        return _constant(node.value)
    if isinstance(node, nodes.Name):
        return _name(node.name)
    if isinstance(node, nodes.Getattr):
        return _getattr(_expression(node.node), node.attr)
    if isinstance(node, nodes.Getitem):
        return _getitem(_expression(node.node), node.arg)
    if isinstance(node, nodes.Call):
        return _call(node)
    if isinstance(node, nodes.Filter):
        return _filter(node)
    if isinstance(node, nodes.Concat):
        items = [_as_text(_expression(n)) for n in node.nodes]
        return lambda v: "".join([item(v) for item in items])
    if type(node) in _BINARY:
        function = _BINARY[type(node)]
        left, right = _expression(node.left), _expression(node.right)  # type: ignore[attr-defined]
        return lambda v: function(left(v), right(v))
    if isinstance(node, nodes.And):
        left, right = _expression(node.left), _expression(node.right)
        return lambda v: left(v) and right(v)
    if isinstance(node, nodes.Or):
        left, right = _expression(node.left), _expression(node.right)
        return lambda v: left(v) or right(v)
    if isinstance(node, nodes.Not):
        inner = _expression(node.node)
        return lambda v: not inner(v)
    if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
        test, then, otherwise = (_expression(n) for n in (node.test, node.expr1, node.expr2))
        return lambda v: then(v) if test(v) else otherwise(v)
    if isinstance(node, nodes.Compare):
        return _compare(node)
    if isinstance(node, (nodes.Tuple, nodes.List)):
        items = [_expression(n) for n in node.items]
        kind = tuple if isinstance(node, nodes.Tuple) else list
        return lambda v: kind(item(v) for item in items)
    raise _Unsupported


def _name(name: str) -> Evaluate:
    def lookup(variables: dict[str, Any]) -> Any:
        if name in variables:
            return variables[name]
        if name in FILTERS:
            return FILTERS[name]
        raise UndefinedError(f"'{name}' is undefined")

    return lookup


def _getattr(target: Evaluate, attribute: str) -> Evaluate:
    if attribute.startswith("_") or attribute in _UNSAFE:
        raise _Unsupported  # let the sandbox refuse it, with its own message

    shadows_dict = hasattr(dict, attribute)  # `let.items` is the method, as in Jinja

    def get(variables: dict[str, Any]) -> Any:
        obj = target(variables)
        if type(obj) is dict and not shadows_dict and attribute in obj:
            return obj[attribute]  # what Jinja finds too, without a failed getattr first
        try:
            return getattr(obj, attribute)
        except AttributeError:
            pass
        try:
            return obj[attribute]
        except (TypeError, LookupError):
            raise UndefinedError(
                f"{type(obj).__name__!r} object has no attribute {attribute!r}"
            ) from None

    return get


def _getitem(target: Evaluate, argument: nodes.Node) -> Evaluate:
    if isinstance(argument, nodes.Slice):
        start, stop, step = (
            _expression(n) if n is not None else _constant(None)
            for n in (argument.start, argument.stop, argument.step)
        )
        return lambda v: target(v)[slice(start(v), stop(v), step(v))]
    key = _expression(argument)

    def get(variables: dict[str, Any]) -> Any:
        obj, index = target(variables), key(variables)
        try:
            return obj[index]
        except (TypeError, LookupError):
            raise UndefinedError(f"{type(obj).__name__!r} object has no item {index!r}") from None

    return get


def _call(node: nodes.Call) -> Evaluate:
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        raise _Unsupported
    function = _expression(node.node)
    args = [_expression(a) for a in node.args]
    kwargs = [(str(k.key), _expression(k.value)) for k in node.kwargs]

    def call(variables: dict[str, Any]) -> Any:
        callee = function(variables)
        if not _ENV.is_safe_callable(callee):
            raise SecurityError(f"{callee!r} is not safely callable")
        return callee(*[a(variables) for a in args], **{k: v(variables) for k, v in kwargs})

    return call


def _filter(node: nodes.Filter) -> Evaluate:
    function = _FILTERS.get(node.name)
    if function is None or node.dyn_args is not None or node.dyn_kwargs is not None:
        raise _Unsupported
    target = _expression(node.node) if node.node is not None else None
    if target is None:
        raise _Unsupported
    args = [_expression(a) for a in node.args]
    kwargs = [(str(k.key), _expression(k.value)) for k in node.kwargs]
    if not args and not kwargs:
        return lambda v: function(target(v))
    return lambda v: function(
        target(v), *[a(v) for a in args], **{k: value(v) for k, value in kwargs}
    )


def _compare(node: nodes.Compare) -> Evaluate:
    first = _expression(node.expr)
    steps = []
    for operand in node.ops:
        if operand.op not in _COMPARE:
            raise _Unsupported
        steps.append((_COMPARE[operand.op], _expression(operand.expr)))

    def compare(variables: dict[str, Any]) -> bool:
        left = first(variables)
        for function, right_of in steps:
            right = right_of(variables)
            if not function(left, right):
                return False
            left = right
        return True

    return compare


__all__ = ["Computed", "TemplateError", "compile_condition", "compile_value"]
