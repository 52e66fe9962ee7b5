"""Reading an OIOXML Emessage by local names: receipts must work in every namespace."""

from __future__ import annotations

from lxml import etree

RECEIPT_LETTERS = frozenset({"PositiveReceipt", "NegativeReceipt", "NegativeVansReceipt"})


def letters(root: etree._Element) -> list[etree._Element]:
    """The letters of an Emessage: every child element except Envelope and Local_Elements."""
    return [
        child
        for child in root
        if isinstance(child.tag, str) and local(child) not in ("Envelope", "Local_Elements")
    ]


def text_at(element: etree._Element, path: str) -> str:
    """Stripped text at a path of local names ("Letter/Identifier"), "" when absent."""
    steps = "/".join(f"*[local-name()='{step}']" for step in path.split("/"))
    return str(element.xpath(f"string({steps})")).strip()


def child(element: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in element if local(c) == name), None)


def local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""
