"""FHIRPath for mapping sources: the everyday subset walked directly, the rest by fhirpathpy.

Mappings mostly navigate: `Bundle.entry.resource.ofType(Patient).name.given`,
`identifier.where(system='urn:oid:1.2.208.176.1.2').value`, `payload[0].content`,
`entry.resource.ofType(MessageHeader).sender.resolve().name`. fhirpathpy interprets every
expression through its full engine (about 0.1 ms each); this subset is walked over the
dicts directly, with the same results:
- names (choice types too: `value` finds `valueDateTime`), `[n]`, `first()`, `exists()`,
  `join('sep')`, `ofType(Type)`;
- `where(...)` with `path = 'literal'`, `path.exists()` or `path`, joined by `or`/`and`;
- `resolve()`: a reference (`Type/id` or a fullUrl) to the entry's resource in the Bundle
  the path is evaluated in (fhirpathpy cannot resolve inside a Bundle).
Anything else is compiled by fhirpathpy, so every FHIRPath expression still works.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

Evaluate = Callable[[Any, Any], list[Any]]  # (node, the whole resource) → values

_STEP = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\[(?P<index>\d+)\])?
      |ofType\((?P<type>[A-Z][A-Za-z]*)\)
      |where\((?P<where>.+)\)
      |join\('(?P<separator>[^'\\]*)'\)
      |(?P<function>first|exists|resolve)\(\)""",
    re.VERBOSE,
)
_CLAUSE = re.compile(r"^(?P<path>.+?)\s*=\s*'(?P<literal>[^'\\]*)'$")

# A step: (kind, argument); a where's argument is its clauses, alternatives of conjunctions
Step = tuple[str, Any]


@functools.lru_cache(maxsize=4096)
def compile_fhirpath(path: str) -> Evaluate:
    steps = _simple_steps(path)
    if steps is not None:
        return functools.partial(_walk, steps)
    try:
        compiled = fhirpathpy.compile(path, model=models["r4"])
        # Its parser recovers from errors: they surface on evaluation. Probe with an empty
        # resource of the type the path starts from (`Bundle.entry…`), if it names one.
        first = path.lstrip().split(".", 1)[0]
        compiled({"resourceType": first} if first[:1].isupper() else {}, None)
    except Exception as exc:  # fhirpathpy raises its parser's own exception types
        raise ValueError(f"{path!r} is not FHIRPath: {exc}") from None
    return lambda node, root: list(compiled(node, None))


def _simple_steps(path: str) -> tuple[Step, ...] | None:
    steps: list[Step] = []
    for part in _split(path, "."):
        match = _STEP.fullmatch(part)
        if match is None:
            return None
        if match.group("name"):
            steps.append(("name", match.group("name")))
            if match.group("index") is not None:
                steps.append(("index", int(match.group("index"))))
        elif match.group("type"):
            steps.append(("type", match.group("type")))
        elif match.group("where") is not None:
            clauses = _where(match.group("where"))
            if clauses is None:
                return None
            steps.append(("where", clauses))
        elif match.group("separator") is not None:
            steps.append(("join", match.group("separator")))
        else:
            steps.append((match.group("function"), None))
    return tuple(steps)


def _where(text: str) -> tuple[tuple[tuple[tuple[Step, ...], str | None], ...], ...] | None:
    """`a = 'x' or b.exists()` → alternatives, each a conjunction of (steps, literal)."""
    alternatives = []
    for alternative in _split(text, " or "):
        conjunction = []
        for clause in _split(alternative, " and "):
            clause = clause.strip()
            literal: str | None = None
            match = _CLAUSE.match(clause)
            if match is not None:
                clause, literal = match.group("path"), match.group("literal")
            elif clause.endswith(".exists()"):
                clause = clause[: -len(".exists()")]
            steps = _simple_steps(clause.strip())
            if steps is None:
                return None
            conjunction.append((steps, literal))
        alternatives.append(tuple(conjunction))
    return tuple(alternatives)


def _split(path: str, separator: str) -> list[str]:
    """Split on `separator` outside quotes and parentheses."""
    parts: list[str] = []
    depth, quoted, start, i = 0, False, 0, 0
    text = path.strip()
    while i < len(text):
        char = text[i]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and not depth and text.startswith(separator, i):
            parts.append(text[start:i])
            i += len(separator)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _walk(steps: tuple[Step, ...], node: Any, root: Any = None) -> list[Any]:
    root = node if root is None else root
    nodes = node if isinstance(node, list) else [node]
    for position, (kind, argument) in enumerate(steps):
        if kind == "name":
            if position == 0 and _is_type_name(argument, nodes):
                continue  # `Bundle.entry…` starts at the Bundle itself
            nodes = _children(nodes, argument)
        elif kind == "index":
            nodes = nodes[argument : argument + 1]
        elif kind == "first":
            nodes = nodes[:1]
        elif kind == "exists":
            nodes = [bool(nodes)]
        elif kind == "join":
            nodes = [argument.join(_text(n) for n in nodes)] if nodes else []
        elif kind == "type":
            nodes = [n for n in nodes if isinstance(n, dict) and n.get("resourceType") == argument]
        elif kind == "resolve":
            nodes = _resolved(nodes, root)
        else:
            nodes = [n for n in nodes if _matches(n, argument, root)]
    return nodes


def _matches(node: Any, alternatives: Any, root: Any) -> bool:
    for conjunction in alternatives:
        if all(_holds(node, steps, literal, root) for steps, literal in conjunction):
            return True
    return False


def _holds(node: Any, steps: tuple[Step, ...], literal: str | None, root: Any) -> bool:
    values = _walk(steps, node, root)
    if literal is None:  # `path.exists()` or a bare path
        return bool(values) and values != [False]
    return any(_text(v) == literal for v in values)


def _is_type_name(name: str, nodes: list[Any]) -> bool:
    return name[:1].isupper() and all(
        isinstance(n, dict) and n.get("resourceType") == name for n in nodes
    )


def _children(nodes: list[Any], name: str) -> list[Any]:
    found: list[Any] = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        value = node.get(name)
        if value is None:
            value = _choice(node, name)
        if isinstance(value, list):
            found.extend(value)
        elif value is not None:
            found.append(value)
    return found


def _choice(node: dict[str, Any], name: str) -> Any:
    """`value` finds `valueDateTime`: FHIR's choice types, [x] in the specification."""
    size = len(name)
    for key, value in node.items():
        if len(key) > size and key.startswith(name) and key[size].isupper():
            return value
    return None


def _resolved(nodes: list[Any], root: Any) -> list[Any]:
    entries = root.get("entry", []) if isinstance(root, dict) else []
    found = []
    for node in nodes:
        reference = node.get("reference") if isinstance(node, dict) else node
        if not isinstance(reference, str):
            continue
        for entry in entries:
            resource = entry.get("resource", {})
            local = f"{resource.get('resourceType')}/{resource.get('id')}"
            if reference in (entry.get("fullUrl"), local) or reference.endswith("/" + local):
                found.append(resource)
                break
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
