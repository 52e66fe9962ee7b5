"""One hardened lxml parser for every XML Kanal reads: messages, schemas, expected outputs."""

from __future__ import annotations

import re

from lxml import etree

_DECLARED = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)")
_SINGLE_BYTE = {"iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252", "iso-8859-15"}


class XMLError(ValueError):
    """Input that is not well-formed XML; the reason names line and column, never content."""


def hardened_parser(
    *, remove_blank_text: bool = False, encoding: str | None = None
) -> etree.XMLParser:
    return etree.XMLParser(
        encoding=encoding,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_blank_text=remove_blank_text,
    )


_PARSER = hardened_parser()
_UTF8_PARSER = hardened_parser(encoding="utf-8")


def parse_xml(raw: bytes) -> etree._Element:
    """The document's root element. The XML declaration's encoding is honoured, except
    that UTF-8 text declared as Latin-1/windows-1252 (MedCom's own published examples do
    this) is read as UTF-8: real Latin-1 text with æøå is never valid UTF-8."""
    parser = _UTF8_PARSER if _mislabelled_utf8(raw) else _PARSER
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise XMLError(f"not well-formed XML at line {line}, column {column}: {exc.msg}") from None
    if root is None:
        raise XMLError("empty XML document")
    return root


def _mislabelled_utf8(raw: bytes) -> bool:
    declared = _DECLARED.match(raw[:200])
    if declared is None or declared.group(1).decode().lower() not in _SINGLE_BYTE:
        return False
    if raw.isascii():
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def serialise(root: etree._Element, encoding: str = "UTF-8") -> bytes:
    text: bytes = etree.tostring(root, xml_declaration=True, encoding=encoding, pretty_print=True)
    return text


def declared_encoding(root: etree._Element) -> str:
    """The encoding the document was read with (UTF-8 when none was declared)."""
    info = root.getroottree().docinfo
    return (info.encoding or "UTF-8").lower()
