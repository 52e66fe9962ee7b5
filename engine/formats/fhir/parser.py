"""FHIR JSON or XML in, the resource as a JSON-shaped dict out."""

from __future__ import annotations

import json
from typing import Any

from lxml import etree
from pydantic import ValidationError

from engine.formats.xml.parser import XMLError, parse_xml

FHIR_NS = "http://hl7.org/fhir"


class FHIRError(ValueError):
    """Input that is not a FHIR resource."""


def parse_fhir(raw: bytes) -> dict[str, Any]:
    if raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        return _from_xml(raw)
    try:
        resource = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FHIRError(f"not valid JSON: {exc}") from None
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise FHIRError("not a FHIR resource: no resourceType")
    return resource


def _from_xml(raw: bytes) -> dict[str, Any]:
    # FHIR XML needs the structure definitions to know what repeats: the R4B models do.
    from fhir.resources.R4B import get_fhir_model_class

    try:
        root = parse_xml(raw)  # hardened first: the models' own parser is not
    except XMLError as exc:
        raise FHIRError(str(exc)) from None
    qname = etree.QName(root)
    if qname.namespace != FHIR_NS:
        raise FHIRError(f"not FHIR XML: root namespace is {qname.namespace!r}")
    try:
        model = get_fhir_model_class(qname.localname)
        resource = model.model_validate_xml(etree.tostring(root))
    except (KeyError, ValueError, ValidationError) as exc:
        raise FHIRError(f"not a valid FHIR {qname.localname}: {_first_line(exc)}") from None
    data: dict[str, Any] = json.loads(resource.model_dump_json())
    return data


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
