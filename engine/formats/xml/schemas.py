"""XSD validation by namespace: the catalogue finds the schema that declares a root element.

`[standards.medcom] schema_dir` points at a folder of official schemas (any depth). Each
`.xsd` is read once for its targetNamespace and global elements; a schema is compiled the
first time a document needs it, then reused.
"""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree

from engine.formats.xml.parser import hardened_parser

XS = "{http://www.w3.org/2001/XMLSchema}"


class NoSchema(LookupError):
    """No schema in the catalogue declares this root element: not a validation failure."""


class SchemaCatalogue:
    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise FileNotFoundError(f"schema folder {folder} does not exist")
        self.folder = folder
        self._lock = threading.Lock()
        self._index: dict[tuple[str, str], Path] | None = None
        self._compiled: dict[Path, etree.XMLSchema] = {}

    def errors(self, root: etree._Element) -> list[str]:
        """Schema errors as `line N: message` (`/path: message` for a tree built in memory);
        empty when valid. Raises NoSchema."""
        schema = self._schema_for(root)
        if schema.validate(root):
            return []
        return [
            f"line {e.line}: {e.message}" if e.line else f"{e.path}: {e.message}"
            for e in schema.error_log
        ]

    def _schema_for(self, root: etree._Element) -> etree.XMLSchema:
        qname = etree.QName(root)
        key = (qname.namespace or "", qname.localname)
        with self._lock:
            path = self._declarations().get(key)
            if path is None:
                raise NoSchema(
                    f"no schema for namespace {key[0]!r} (root {key[1]}) in {self.folder}"
                )
            schema = self._compiled.get(path)
            if schema is None:
                schema = etree.XMLSchema(etree.parse(str(path), hardened_parser()))
                self._compiled[path] = schema
            return schema

    def _declarations(self) -> dict[tuple[str, str], Path]:
        if self._index is None:
            index: dict[tuple[str, str], Path] = {}
            for path in sorted(self.folder.rglob("*.xsd")):
                try:
                    schema = etree.parse(str(path), hardened_parser()).getroot()
                except etree.XMLSyntaxError:
                    continue  # a broken file in the folder must not hide the others
                namespace = schema.get("targetNamespace", "")
                for element in schema.iterchildren(f"{XS}element"):
                    index.setdefault((namespace, element.get("name", "")), path)
            self._index = index
        return self._index
