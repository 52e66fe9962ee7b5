"""JSON (and FHIR) targets: dotted paths with list indexes, built as dicts and lists.

`entry[0].resource.id`; `[+]` appends a new item, `[=]` is the last one (as in FHIR
Shorthand), so a `for_each` writes `identifier[+]` once per source item. Empty objects,
lists and strings are dropped when serialising: FHIR forbids them, and a sub-mapping whose
source was absent leaves nothing behind.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

_STEP = re.compile(r"([^.\[\]]+)((?:\[(?:\d+|\+|=)\])*)")
_INDEX = re.compile(r"\[(\d+|\+|=)\]")

Step = str | int  # a key, an index, or "+"/"=" (kept apart from keys by the brackets)


class _Shared:
    """What a target and its sub-targets share."""

    __slots__ = ("parents", "untidy")

    def __init__(self) -> None:
        # Whether a gap (`given[1]` before `given[0]`) may need a pruning pass; the common
        # case serialises without one.
        self.untidy = False
        # (id of a target's root, path) → the container its last step writes into, for
        # paths without [+] or [=]: rules write many leaves under the same objects.
        self.parents: dict[tuple[int, str], Any] = {}


class JsonTarget:
    def __init__(
        self,
        root: dict[str, Any] | None = None,
        shared: _Shared | None = None,
        origin: tuple[Any, Any] | None = None,
    ):
        self.root: dict[str, Any] = {} if root is None else root
        self._shared = _Shared() if shared is None else shared
        self._origin = origin  # (container, key) holding a sub-target's root

    def set(self, path: str, value: Any) -> None:
        steps, parent_path = _plan(path)
        step, is_index, _ = steps[-1]
        if is_index and step not in ("+", "=", 0):
            self._shared.untidy = True  # `given[1]` may leave given[0] empty
        if parent_path is None:  # [+] or [=] on the way: walk every time
            _place(self.root, steps, value, path)
            return
        key = (id(self.root), parent_path)
        parent = self._shared.parents.get(key)
        if parent is None:
            holder: list[tuple[Any, Any]] = []
            _place(self.root, steps, value, path, holder)
            self._shared.parents[key] = holder[0][0]
        elif is_index:
            _index(parent, step, value, True, path)
        elif type(parent) is dict:
            parent[step] = value
        else:
            raise ValueError(f"{path!r}: {step!r} used on a list")

    def child(self, path: str) -> JsonTarget:
        holder: list[tuple[Any, Any]] = []
        node = _place(self.root, _steps(path), None, path, holder)
        return JsonTarget(node, self._shared, holder[0])

    def close(self) -> None:
        """After a sub-mapping: an object it left empty goes (FHIR forbids `{}`)."""
        if self.root or self._origin is None:
            return
        container, key = self._origin
        if isinstance(container, list):
            for position, item in enumerate(container):
                if item is self.root:
                    del container[position]
                    break
        elif container.get(key) is self.root:
            del container[key]
        self._shared.parents.clear()  # a remembered container may have been this one

    def serialise(self) -> str:
        # Compact: json's C encoder only runs without indent (several times faster).
        return json.dumps(self.structure(), ensure_ascii=False, separators=(",", ":"))

    def structure(self) -> dict[str, Any]:
        if not self._shared.untidy:
            return self.root
        result: dict[str, Any] = pruned(self.root) or {}
        return result


@functools.lru_cache(maxsize=4096)  # a mapping has few target paths: parse each once
def _steps(path: str) -> tuple[tuple[Step, bool, type], ...]:
    """(step, is_index, what the next step needs) triples; "+", "=" and numbers inside
    brackets are indexes, and the node before an index is a list."""
    flat: list[tuple[Step, bool]] = []
    for part in path.split("."):
        match = _STEP.fullmatch(part)
        if match is None:
            raise ValueError(f"not a JSON target path: {path!r}")
        flat.append((match.group(1), False))
        for index in _INDEX.findall(match.group(2)):
            flat.append((int(index) if index.isdigit() else index, True))
    following = [list if is_index else dict for _, is_index in flat[1:]] + [dict]
    return tuple(
        (step, is_index, kind) for (step, is_index), kind in zip(flat, following, strict=True)
    )


@functools.lru_cache(maxsize=4096)
def _plan(path: str) -> tuple[tuple[tuple[Step, bool, type], ...], str | None]:
    """The steps, and the path of the container the last step writes into when that is
    always the same one (no [+] or [=] before the last step), else None."""
    steps = _steps(path)
    if any(step in ("+", "=") for step, is_index, _ in steps[:-1] if is_index):
        return steps, None
    last, is_index, _ = steps[-1]
    suffix = f"[{last}]" if is_index else f".{last}"
    return steps, (path[: -len(suffix)] if path.endswith(suffix) else "")


def _place(
    root: dict[str, Any],
    steps: tuple[tuple[Step, bool, type], ...],
    value: Any,
    path: str,
    holder: list[tuple[Any, Any]] | None = None,
) -> Any:
    """Walk (creating as needed) and set the last step; with value None, return the object
    there (created empty) for a sub-mapping to fill, and put its container in `holder`."""
    node: Any = root
    for step, is_index, kind in steps[:-1]:
        if is_index:
            if type(step) is int and type(node) is list and step < len(node) and node[step]:
                node = node[step]  # the common case, an item already there
            else:
                node = _index(node, step, kind(), False, path)
        elif type(node) is dict:
            child = node.get(step)
            if child is None:
                child = node[step] = kind()
            node = child
        else:
            raise ValueError(f"{path!r}: {step!r} used on a list")
    step, is_index, _ = steps[-1]
    if holder is not None:
        holder.append((node, step))
    if is_index:
        return _index(node, step, {} if value is None else value, value is not None, path)
    if type(node) is not dict:
        raise ValueError(f"{path!r}: {step!r} used on a list")
    if value is not None:
        node[step] = value
        return value
    child = node.get(step)
    if child is None:
        child = node[step] = {}
    return child


def _index(node: Any, step: Step, fresh: Any, overwrite: bool, path: str) -> Any:
    if not isinstance(node, list):
        raise ValueError(f"{path!r}: [{step}] used on an object")
    if step == "+" or (step == "=" and not node):
        node.append(fresh)
        return fresh
    position = len(node) - 1 if step == "=" else int(step)
    while len(node) <= position:
        node.append(None)
    if overwrite or node[position] is None:
        node[position] = fresh
    return node[position]


def pruned(node: Any) -> Any:
    """The structure without None, "", [] and {} (recursively); None if nothing is left."""
    if isinstance(node, dict):
        kept = {k: v for k, v in ((k, pruned(v)) for k, v in node.items()) if v is not None}
        return kept or None
    if isinstance(node, list):
        items = [v for v in (pruned(v) for v in node) if v is not None]
        return items or None
    if node is None or node == "":
        return None
    return node
