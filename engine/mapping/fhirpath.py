"""FHIRPath for mapping sources: the everyday subset walked directly, the rest by fhirpathpy.

Mappings mostly navigate: `Bundle.entry.resource.ofType(Patient).name.given`,
`identifier.where(system='urn:oid:1.2.208.176.1.2').value`, `payload[0].content`.
fhirpathpy interprets every expression through its full engine (about 0.1 ms each); this
subset (names, `[n]`, `ofType(T)`, `where(name='literal')`, `first()`, choice types such as
`value` for `valueDateTime`) is walked over the dicts directly, with the same results.
Anything else is compiled by fhirpathpy, so every FHIRPath expression still works.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

Evaluate = Callable[[Any], list[Any]]

_STEP = re.compile(
    r"""(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\[(?P<index>\d+)\])?
      |ofType\((?P<type>[A-Z][A-Za-z]*)\)
      |where\((?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*'(?P<literal>[^'\\]*)'\)
      |(?P<first>first\(\))""",
    re.VERBOSE,
)


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
    return lambda node: list(compiled(node, None))


Step = tuple[str, str]  # (kind, argument): name, index, type, where, first


def _simple_steps(path: str) -> tuple[Step, ...] | None:
    steps: list[Step] = []
    for part in _split(path):
        match = _STEP.fullmatch(part)
        if match is None:
            return None
        if match.group("name"):
            steps.append(("name", match.group("name")))
            if match.group("index") is not None:
                steps.append(("index", match.group("index")))
        elif match.group("type"):
            steps.append(("type", match.group("type")))
        elif match.group("key"):
            steps.append(("where", f"{match.group('key')}={match.group('literal')}"))
        else:
            steps.append(("first", ""))
    return tuple(steps)


def _split(path: str) -> list[str]:
    """Split on dots outside quotes and parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for char in path.strip():
        if char == "'" and depth:
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "." and not depth and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _walk(steps: tuple[Step, ...], root: Any) -> list[Any]:
    nodes = root if isinstance(root, list) else [root]
    for position, (kind, argument) in enumerate(steps):
        if kind == "name":
            if position == 0 and _is_type_name(argument, nodes):
                continue  # `Bundle.entry…` starts at the Bundle itself
            nodes = _children(nodes, argument)
        elif kind == "index":
            index = int(argument)
            nodes = nodes[index : index + 1]
        elif kind == "first":
            nodes = nodes[:1]
        elif kind == "type":
            nodes = [n for n in nodes if isinstance(n, dict) and n.get("resourceType") == argument]
        else:
            key, _, literal = argument.partition("=")
            nodes = [n for n in nodes if isinstance(n, dict) and _text(n.get(key)) == literal]
    return nodes


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


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
