"""What every FHIR output must satisfy before it leaves: R4 structure, ids, references.

`structure_problems` validates with the fhir.resources R4B models; `bundle_problems`
checks what the models do not: unique fullUrls and ids, every reference resolvable inside
the Bundle, and no empty elements (FHIR forbids "", [] and {}). The exception is
Provenance's `target` and `entity`: MedCom messages point them at earlier messages.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError


def structure_problems(resource: dict[str, Any]) -> list[str]:
    from fhir.resources.R4B import get_fhir_model_class

    kind = resource.get("resourceType", "")
    try:
        get_fhir_model_class(kind).model_validate(resource)
    except KeyError:
        return [f"resourceType {kind!r} is not a FHIR R4 resource"]
    except ValidationError as exc:
        return [
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        ]
    return []


def bundle_problems(resource: dict[str, Any]) -> list[str]:
    problems = [
        f"{path}: empty element" for path in _empty_paths(resource, resource["resourceType"])
    ]
    if resource.get("resourceType") != "Bundle":
        return problems
    known: set[str] = set()
    for index, entry in enumerate(resource.get("entry", [])):
        item = entry.get("resource", {})
        local = f"{item.get('resourceType')}/{item.get('id')}"
        for key in (entry.get("fullUrl"), local):
            if key in known:
                problems.append(f"entry[{index}]: {key} appears twice")
            if key:
                known.add(key)
    for path, reference in _references(resource, "Bundle"):
        if _history(resource, path):
            continue
        if not reference.startswith("#") and reference not in known:
            problems.append(f"{path}: reference {reference!r} does not resolve in the Bundle")
    return problems


_HISTORY = re.compile(r"^Bundle\.entry\[(\d+)\]\.resource\.(target|entity)\b")


def _history(bundle: dict[str, Any], path: str) -> bool:
    """A Provenance's target or entity: MedCom points these at earlier messages."""
    match = _HISTORY.match(path)
    if match is None:
        return False
    entry = bundle["entry"][int(match.group(1))]
    return bool(entry.get("resource", {}).get("resourceType") == "Provenance")


def _empty_paths(node: Any, path: str) -> list[str]:
    if node is None or node == "" or node == [] or node == {}:
        return [path]
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_empty_paths(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_empty_paths(value, f"{path}[{index}]"))
    return found


def _references(node: Any, path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                found.append((f"{path}.reference", value))
            else:
                found.extend(_references(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_references(value, f"{path}[{index}]"))
    return found
