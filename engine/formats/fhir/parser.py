"""FHIR JSON or XML in, the resource as a JSON-shaped dict out."""

from __future__ import annotations

import json
from typing import Any

from lxml import etree
from pydantic import ValidationError

from engine.formats.xml.parser import XMLError, parse_xml

FHIR_NS = "http://hl7.org/fhir"
# The R4B models read XML in time quadratic in an element's attributes, namespaces and
# repeated children (200,000 attributes: over three minutes). MedCom's largest Bundles
# have under 1,000 elements and two attributes to an element: these bounds are far above.
MAX_XML_ELEMENTS = 20_000
MAX_XML_CHILDREN = 1_000
MAX_XML_ATTRIBUTES = 100  # namespace declarations in scope included


class FHIRError(ValueError):
    """Input that is not a FHIR resource."""


def parse_fhir(raw: bytes) -> dict[str, Any]:
    if raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        return _from_xml(raw)
    try:
        resource = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, a 5,000-digit number
        raise FHIRError(f"not valid JSON: {exc}") from None
    except RecursionError:  # nesting deeper than the interpreter's stack
        raise FHIRError("not valid JSON: nested too deeply") from None
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
    _check_bounds(root)
    try:
        model = get_fhir_model_class(qname.localname)
        resource = model.model_validate_xml(etree.tostring(root))
    except (KeyError, ValueError, ValidationError, etree.XMLSyntaxError) as exc:
        # XMLSyntaxError: the models read the XML again (an entity left unresolved by the
        # hardened parser is undefined there), and lxml's parse errors are no ValueError
        raise FHIRError(f"not a valid FHIR {qname.localname}: {_first_line(exc)}") from None
    data: dict[str, Any] = json.loads(resource.model_dump_json())
    return data


def _check_bounds(root: etree._Element) -> None:
    for count, element in enumerate(root.iter(), 1):
        if count > MAX_XML_ELEMENTS:
            raise FHIRError(f"FHIR XML of more than {MAX_XML_ELEMENTS} elements is not read")
        if len(element) > MAX_XML_CHILDREN:
            raise FHIRError(f"a FHIR XML element with over {MAX_XML_CHILDREN} children")
        if len(element.attrib) + len(element.nsmap) > MAX_XML_ATTRIBUTES:
            raise FHIRError(f"a FHIR XML element with over {MAX_XML_ATTRIBUTES} attributes")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
