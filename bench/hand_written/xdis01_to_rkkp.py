"""What mappings/xdis01-to-rkkp does, written directly in Python: a MedCom XDIS01 discharge
letter (OIOXML 2005-08-07) as Kanal's RKKP quality report (rkkp-quality-report.xsd)."""

from __future__ import annotations

from typing import Any

from lxml import etree
from lxml.etree import SubElement

from engine.mapping.filters import cpr_digits, medcom_to_fhir_datetime, uuid_for
from engine.pipeline.view import MessageView

FIXTURE = "fixtures/oioxml/xdis01_discharge.xml"

MEDCOM = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"
M = {"m": MEDCOM}
RKKP = "{urn:kanal:rkkp:quality-report:1}"
NSMAP = {None: RKKP[1:-1]}
MAIN, MAIN_ADDITIONAL, OTHER = (f"{{{MEDCOM}}}{n}" for n in ("Main", "MainAdditional", "Other"))

# The concept maps (conceptmaps/*.csv), as the mapping reads them.
SENDER_IDENTIFIER_TYPE = {
    "sorkode": "SOR",
    "sygehusafdelingsnummer": "SHAK",
    "lokationsnummer": "EAN",
    "ydernummer": "YDERNUMMER",
    "kommunenummer": "KOMMUNENUMMER",
}
DIAGNOSIS_TYPE = {  # Diagnose/Other's DiagnoseDescriptionCode → LPR diagnosis type
    "aktionsdiagnose": "A",
    "bidiagnose": "B",
    "tillaegsdiagnose": "+",
    "henv_diagnose": "H",
    "midlertidig_diagnose": "M",
}
PROCEDURE_TYPE = {"operation": "operation", "roentgenundersoegelse": "radiology"}
LETTER_STATUS = {"nytbrev": "new", "rettetbrev": "corrected"}


def _mapped(table: dict[str, str], code: str, name: str) -> str:
    try:
        return table[code]
    except KeyError:
        raise ValueError(f"code {code!r} is not in concept map {name!r}") from None


def _required(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"{what}: no value, and it is required")
    return value


def _text(node: Any, path: str) -> str:
    """The trimmed text of the first element at `path` ("" when absent): every element read
    here is a simple one, without MedCom's formatted-text markup."""
    return (node.findtext(path, namespaces=M) or "").strip()


def _date_time(node: Any, path: str) -> str:
    """MedCom's Date and Time under `path` as one FHIR dateTime ("" without a Date)."""
    date = _text(node, f"{path}/m:Date")
    return medcom_to_fhir_datetime(date, _text(node, f"{path}/m:Time")) if date else ""


def _add(parent: etree._Element, tag: str, text: str) -> etree._Element:
    element = SubElement(parent, RKKP + tag)
    element.text = text
    return element


def _add_optional(parent: etree._Element, tag: str, text: str) -> None:
    if text:
        SubElement(parent, RKKP + tag).text = text


def by_hand(msg: MessageView) -> bytes:
    emessage = msg.parsed
    letter = emessage.find("m:DischargeLetter", M)
    if letter is None:
        raise ValueError("not a discharge letter: no DischargeLetter")

    created = _required(_date_time(emessage, "m:Envelope/m:Sent"), "Envelope/Sent/Date")
    ean = _required(_text(letter, "m:Sender/m:EANIdentifier"), "Sender/EANIdentifier")
    cpr = _text(letter, "m:Patient/m:CivilRegistrationNumber")
    cpr = _required(cpr_digits(cpr) if cpr else "", "Patient/CivilRegistrationNumber")
    admission = _required(_date_time(letter, "m:Admission"), "Admission/Date")
    discharge = _required(_date_time(letter, "m:Discharge"), "Discharge/Date")

    # The same letter (sender, envelope, letter identifier) always gives the same report id.
    report_id = uuid_for("rkkp-quality-report", msg.sender, msg.envelope_id, msg.control_id)

    root = etree.Element(RKKP + "QualityReport", nsmap=NSMAP)
    _add(root, "ReportId", report_id)
    _add(root, "Created", created)

    source = SubElement(root, RKKP + "Source")
    organisation = SubElement(source, RKKP + "Organisation")
    _add(organisation, "EANIdentifier", ean)
    _add_optional(organisation, "Name", _text(letter, "m:Sender/m:OrganisationName"))
    identifier = _text(letter, "m:Sender/m:Identifier")
    department_name = _text(letter, "m:Sender/m:DepartmentName")
    if identifier or department_name:
        department = SubElement(source, RKKP + "Department")
        if identifier:
            element = _add(department, "Identifier", identifier)
            kind = _text(letter, "m:Sender/m:IdentifierCode")
            if kind:
                element.set("type", _mapped(SENDER_IDENTIFIER_TYPE, kind, "sender-identifier-type"))
        _add_optional(department, "Name", department_name)

    _add(SubElement(root, RKKP + "Patient"), "CivilRegistrationNumber", cpr)

    episode = SubElement(root, RKKP + "EpisodeOfCare")
    _add_optional(episode, "Identifier", _text(letter, "m:Letter/m:EpisodeOfCareIdentifier"))
    _add(episode, "Admission", admission)
    _add(episode, "Discharge", discharge)

    # XDIS01 keeps procedures among the diagnoses: an Other typed operation or
    # roentgenundersoegelse is a procedure, every other Main, MainAdditional or Other a
    # diagnosis.
    diagnoses, procedures = [], []
    for child in letter.iterfind("m:Diagnose/*", M):
        if child.tag == OTHER:
            codes = [c.text for c in child.iterfind("m:DiagnoseDescriptionCode", M)]
            if "operation" in codes or "roentgenundersoegelse" in codes:
                procedures.append(child)
            else:
                diagnoses.append(child)
        elif child.tag in (MAIN, MAIN_ADDITIONAL):
            diagnoses.append(child)
    if diagnoses:
        parent = SubElement(root, RKKP + "Diagnoses")
        for item in diagnoses:
            if item.tag == MAIN:
                kind = "A"
            elif item.tag == MAIN_ADDITIONAL:
                kind = "+"
            else:
                code = _required(_text(item, "m:DiagnoseDescriptionCode"), "diagnosis type")
                kind = _mapped(DIAGNOSIS_TYPE, code, "diagnosis-type")
            _coded(parent, "Diagnosis", item, kind)
    if procedures:
        parent = SubElement(root, RKKP + "Procedures")
        for item in procedures:
            code = _required(_text(item, "m:DiagnoseDescriptionCode"), "procedure type")
            _coded(parent, "Procedure", item, _mapped(PROCEDURE_TYPE, code, "procedure-type"))

    original = SubElement(root, RKKP + "OriginalLetter")
    _add(original, "Type", _required(_text(letter, "m:Letter/m:TypeCode"), "Letter/TypeCode"))
    _add(
        original,
        "Identifier",
        _required(_text(letter, "m:Letter/m:Identifier"), "Letter/Identifier"),
    )
    _add(
        original,
        "EnvelopeIdentifier",
        _required(_text(emessage, "m:Envelope/m:Identifier"), "Envelope/Identifier"),
    )
    status = _required(_text(letter, "m:Letter/m:StatusCode"), "Letter/StatusCode")
    _add(original, "Status", _mapped(LETTER_STATUS, status, "letter-status"))
    _add_optional(original, "Authorised", _date_time(letter, "m:Letter/m:Authorisation"))

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _coded(parent: etree._Element, tag: str, item: Any, kind: str) -> None:
    """A Diagnosis or Procedure: SKS code, text, when (if dated) and type."""
    element = SubElement(parent, RKKP + tag)
    _add(element, "Code", _required(_text(item, "m:DiagnoseCode"), f"{tag}/Code"))
    _add(element, "Text", _required(_text(item, "m:DiagnoseText"), f"{tag}/Text"))
    _add_optional(element, "DateTime", _date_time(item, "m:DiagnoseDateTime"))
    _add(element, "Type", kind)
