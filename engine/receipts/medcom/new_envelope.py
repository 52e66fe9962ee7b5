"""A letter sent again for want of a receipt gets a new envelope id (MedCom reliable
messaging: same letter, new envelope), so its receipt can be told from the first's."""

from __future__ import annotations

import uuid

from lxml import etree

from engine.formats.edifact import parse_edifact
from engine.formats.edifact.tree import from_tree, to_tree
from engine.formats.sniff import sniff
from engine.formats.xml import declared_encoding, parse_xml, serialise

ENVELOPE_ID_LENGTH = 14  # UNB 0020 is an..14; OIOXML's Envelope/Identifier the same


def new_envelope_id() -> str:
    return ("K" + uuid.uuid4().hex.upper())[:ENVELOPE_ID_LENGTH]


def with_new_envelope(payload: bytes, envelope_id: str) -> bytes | None:
    """The letter with `envelope_id` in its envelope; None for what has no MedCom
    envelope id of its own (FHIR messages are resent unchanged)."""
    kind = sniff(payload)
    if kind == "edifact":
        tree = to_tree(parse_edifact(payload))
        for path in ("UNB/e5", "UNZ/e2"):
            element = tree.find(path)
            if element is not None:
                for component in list(element):
                    element.remove(component)
                element.text = envelope_id
        return from_tree(tree)
    if kind == "xml":
        root = parse_xml(payload)
        found = root.xpath("/*/*[local-name()='Envelope']/*[local-name()='Identifier']")
        if not found or not isinstance(found[0], etree._Element):
            return None
        found[0].text = envelope_id
        return serialise(root, declared_encoding(root))
    return None
