"""XML targets: paths from the root element, built as an lxml tree.

    root = "Emessage"                       # [mapping] root, in target_namespace
    to = "Envelope/Sent/Date"               # child elements, created on first use
    to = "ClinicalEmail/Patient/@type"      # an attribute
    to = "LaboratoryResults/Analysis[+]"    # a new element; [=] the last; [2] the second

Unprefixed names are in the target namespace; `p:name` uses a declared prefix. Elements
appear in the order first written, so rules are written in the schema's order. Elements a
sub-mapping created but left empty are removed before serialising.
"""

from __future__ import annotations

import functools
import re

from lxml import etree

_STEP = re.compile(r"^(@)?(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*)(?:\[(\d+|\+|=)\])?$")


# (is an attribute, qualified name, index: "", n, "+" or "=", the path up to this step)
Step = tuple[bool, str, str, str]


class XmlTarget:
    def __init__(
        self,
        root: str,
        namespace: str,
        namespaces: dict[str, str],
        *,
        line_break: str = "",
        node: etree._Element | None = None,
        shared: _Shared | None = None,
    ) -> None:
        self.namespace = namespace
        self.namespaces = namespaces
        self.line_break = line_break
        if node is None:
            node = etree.Element(
                _qname(root, namespace, namespaces), nsmap=_nsmap(namespace, namespaces)
            )
        self.node = node
        self._shared = _Shared() if shared is None else shared
        self._where = (namespace, tuple(sorted(namespaces.items())))

    def set(self, path: str, value: str, line_breaks: bool = True) -> None:
        """`line_breaks = False`: newlines stay newlines (base64 lines, say), not `<Break/>`."""
        steps = _compiled(path, *self._where)
        parent = self._walk(steps[:-1], path)
        attribute, tag, index, _ = steps[-1]
        if attribute:
            parent.set(tag, value)
            return
        element = self._element(parent, tag, index)
        if line_breaks and self.line_break and "\n" in value:
            _with_breaks(element, value, _qname(self.line_break, self.namespace, self.namespaces))
        else:
            element.text = value

    def child(self, path: str) -> XmlTarget:
        if path == ".":  # `to = "."`: the sub-mapping writes into this same element
            return self
        steps = _compiled(path, *self._where)
        if steps[-1][0]:
            raise ValueError(f"{path!r}: a sub-mapping needs an element, not an attribute")
        node = self._walk(steps, path)
        self._shared.created.append(node)
        return XmlTarget(
            "",
            self.namespace,
            self.namespaces,
            line_break=self.line_break,
            node=node,
            shared=self._shared,
        )

    def close(self) -> None:
        """Sub-roots left empty are removed in `tree`, innermost first."""

    def tree(self) -> etree._Element:
        created = self._shared.created
        for node in reversed(created):  # innermost first, so emptied parents go too
            parent = node.getparent()
            if (
                parent is not None
                and not len(node)
                and not node.attrib
                and not (node.text or "").strip()
            ):
                parent.remove(node)
        created.clear()
        self._shared.children.clear()
        self._shared.walked.clear()
        etree.cleanup_namespaces(self.node)  # source-only prefixes are not declared
        return self.node

    def _walk(self, steps: tuple[Step, ...], path: str) -> etree._Element:
        # Rules share long prefixes (Envelope/Sent/…): a prefix with no [+] or [=] always
        # leads to the same element, so each is remembered.
        walked = self._shared.walked
        start = self.node
        node = start
        stable = True
        for attribute, tag, index, prefix in steps:
            if attribute:
                raise ValueError(f"{path!r}: an attribute can only come last")
            stable = stable and index not in ("+", "=")
            if stable:
                found = walked.get((start, prefix))
                if found is None:
                    found = walked[(start, prefix)] = self._element(node, tag, index)
                node = found
            else:
                node = self._element(node, tag, index)
        return node

    def _element(self, parent: etree._Element, tag: str, index: str) -> etree._Element:
        """The child `tag` of `parent` by index, created as needed. The target builds the
        whole tree, so it keeps its own index of children instead of searching lxml."""
        children = self._shared.children.setdefault((parent, tag), [])
        if index == "+" or (index == "=" and not children) or (not index and not children):
            element = etree.SubElement(parent, tag)
            children.append(element)
            return element
        if index == "=":
            return children[-1]
        position = int(index or 1)
        while len(children) < position:
            children.append(etree.SubElement(parent, tag))
        return children[position - 1]


class _Shared:
    """What a target and its sub-targets share: created sub-roots and the child index."""

    __slots__ = ("children", "created", "walked")

    def __init__(self) -> None:
        self.created: list[etree._Element] = []  # sub-mapping roots, maybe left empty
        self.children: dict[tuple[etree._Element, str], list[etree._Element]] = {}
        self.walked: dict[tuple[etree._Element, str], etree._Element] = {}


@functools.lru_cache(maxsize=4096)
def _compiled(
    path: str, namespace: str, namespaces: tuple[tuple[str, str], ...]
) -> tuple[Step, ...]:
    declared = dict(namespaces)
    steps = []
    parts = path.strip("/").split("/")
    for position, (attribute, prefix, name, index) in enumerate(_steps(path)):
        qualified = _named(prefix, name)
        tag = (
            _qname(qualified, "", declared) if attribute else _qname(qualified, namespace, declared)
        )
        steps.append((attribute, tag, index, "/".join(parts[: position + 1])))
    return tuple(steps)


@functools.lru_cache(maxsize=4096)
def _steps(path: str) -> tuple[tuple[bool, str, str, str], ...]:
    steps = []
    for part in path.strip("/").split("/"):
        match = _STEP.match(part)
        if match is None:
            raise ValueError(f"not an XML target path: {path!r} (at {part!r})")
        attribute, prefix, name, index = match.groups()
        steps.append((bool(attribute), prefix or "", name, index or ""))
    return tuple(steps)


def _named(prefix: str, name: str) -> str:
    return f"{prefix}:{name}" if prefix else name


def _qname(name: str, namespace: str, namespaces: dict[str, str]) -> str:
    prefix, _, local = name.rpartition(":")
    if prefix:
        if prefix not in namespaces:
            raise ValueError(f"prefix {prefix!r} is not declared in [mapping] namespaces")
        return f"{{{namespaces[prefix]}}}{local}"
    return f"{{{namespace}}}{local}" if namespace else local


def _nsmap(namespace: str, namespaces: dict[str, str]) -> dict[str | None, str]:
    declared: dict[str | None, str] = {p: uri for p, uri in namespaces.items() if uri != namespace}
    if namespace:
        declared[None] = namespace
    return declared


def _with_breaks(element: etree._Element, value: str, tag: str) -> None:
    """Text with each newline as an empty element (MedCom's `<Break/>`)."""
    lines = value.split("\n")
    element.text = lines[0]
    for line in lines[1:]:
        etree.SubElement(element, tag).tail = line
