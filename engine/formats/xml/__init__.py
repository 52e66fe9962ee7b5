"""XML (MedCom OIOXML): hardened parsing, XSD validation from a schema folder, metadata.

Parsers never resolve entities, load DTDs or touch the network, and refuse huge trees:
a message is data from outside, not a document to be trusted.
"""

from __future__ import annotations

from engine.formats.xml.metadata import extract_metadata
from engine.formats.xml.parser import XMLError, declared_encoding, parse_xml, serialise
from engine.formats.xml.schemas import NoSchema, SchemaCatalogue

__all__ = [
    "NoSchema",
    "SchemaCatalogue",
    "XMLError",
    "declared_encoding",
    "extract_metadata",
    "parse_xml",
    "serialise",
]
