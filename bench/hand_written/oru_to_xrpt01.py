"""What mappings/oru-to-xrpt01 does, written directly in Python: an ORU^R01 from the lab
as a MedCom XRPT01 laboratory report (OIOXML 2007-02-01), ISO-8859-1."""

from __future__ import annotations

from typing import Any

from lxml import etree
from lxml.etree import SubElement

from engine.formats.hl7v2 import HL7Message
from engine.mapping.filters import hl7_to_medcom_date, hl7_to_medcom_time, uuid_for
from engine.pipeline.view import MessageView

FIXTURE = "fixtures/hl7v2/oru_r01_local_codes.hl7"

NS = "{http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2007/02/01/}"
NSMAP = {None: NS[1:-1]}

# The concept maps (conceptmaps/*.csv), as the mapping reads them.
LAB = {  # MSH-4 → (EAN, organisation, SOR code, department)
    "RHH": (
        "5790001234567",
        "Regionshospitalet Horsens",
        "456781000016009",
        "Klinisk Biokemisk Afdeling",
    ),
}
GP = {"112233": ("5790000123453", "123456", "Lægerne Søndergade")}  # OBR-16.1 → EAN, ydernr.
NPU = {  # (OBX-3.1, OBX-3.3) → (NPU code, NPU name)
    ("HB", "L"): ("NPU02319", "B-Hæmoglobin;stofk."),
    ("CRP", "L"): ("NPU19748", "P-C-reaktivt protein;massek."),
    ("NA", "L"): ("NPU03429", "P-Natrium;stofk."),
    ("K", "L"): ("NPU03230", "P-Kalium;stofk."),
    ("KREA", "L"): ("NPU18016", "P-Kreatininium;stofk."),
    ("NPU02319", "NPU"): ("NPU02319", "B-Hæmoglobin;stofk."),
    ("NPU19748", "NPU"): ("NPU19748", "P-C-reaktivt protein;massek."),
    ("NPU03429", "NPU"): ("NPU03429", "P-Natrium;stofk."),
    ("NPU03230", "NPU"): ("NPU03230", "P-Kalium;stofk."),
    ("NPU18016", "NPU"): ("NPU18016", "P-Kreatininium;stofk."),
}
NPU_ANY_SYSTEM = {code: row for (code, _), row in NPU.items()}  # each code has one system
RESULT_STATUS = {
    "F": "svar_endeligt",
    "U": "svar_endeligt",
    "C": "svar_rettet",
    "P": "svar_midlertidigt",
    "R": "svar_midlertidigt",
    "S": "svar_midlertidigt",
    "I": "proeve_modtaget",
    "O": "proeve_modtaget",
}
ABNORMAL_FLAG = {  # "" = no ResultValidation
    "N": "",
    "L": "for_lav",
    "LL": "for_lav",
    "<": "for_lav",
    "H": "for_hoej",
    "HH": "for_hoej",
    ">": "for_hoej",
    "A": "unormal",
    "AA": "unormal",
}
VALUE_TYPE = {
    "NM": "numerisk",
    "ST": "alfanumerisk",
    "TX": "alfanumerisk",
    "FT": "alfanumerisk",
    "CE": "alfanumerisk",
    "CWE": "alfanumerisk",
}


def _mapped(table: dict[Any, Any], code: object, name: str) -> Any:
    try:
        return table[code]
    except KeyError:
        raise ValueError(f"code {code!r} is not in concept map {name!r}") from None


def _required(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"{what}: no value, and it is required")
    return value


def _add(parent: etree._Element, tag: str, text: str) -> etree._Element:
    """A child element with `text`, each newline as <Break/>."""
    element = SubElement(parent, NS + tag)
    if "\n" in text:
        lines = text.split("\n")
        element.text = lines[0]
        for line in lines[1:]:
            SubElement(element, NS + "Break").tail = line
    else:
        element.text = text
    return element


def _add_optional(parent: etree._Element, tag: str, text: str) -> None:
    if text:
        _add(parent, tag, text)


def _date_time(parent: etree._Element, tag: str, value: str) -> None:
    element = SubElement(parent, NS + tag)
    SubElement(element, NS + "Date").text = hl7_to_medcom_date(value)
    SubElement(element, NS + "Time").text = hl7_to_medcom_time(value)


def by_hand(msg: MessageView) -> bytes:
    hl7: HL7Message = msg.parsed
    control_id = msg.control_id
    message_id = _required(
        control_id
        if len(control_id) <= 14
        else uuid_for("xrpt01", control_id).replace("-", "")[:14],
        "message identifier (MSH-10)",
    )
    sent = hl7.get("MSH-7")
    released = hl7.get("OBR-22") or sent  # authorised when the lab released the results
    lab = hl7.get("MSH-4")
    lab_ean, lab_name, lab_sor, lab_department = _mapped(LAB, _required(lab, "MSH-4"), "lab")
    gp = _required(hl7.get("OBR-16.1"), "OBR-16.1")
    gp_ean, gp_number, gp_name = _mapped(GP, gp, "gp-ean")

    root = etree.Element(NS + "Emessage", nsmap=NSMAP)
    envelope = SubElement(root, NS + "Envelope")
    _date_time(envelope, "Sent", sent)
    SubElement(envelope, NS + "Identifier").text = message_id
    SubElement(envelope, NS + "AcknowledgementCode").text = "pluspositivkvitt"

    report = SubElement(root, NS + "LaboratoryReport")
    letter = SubElement(report, NS + "Letter")
    SubElement(letter, NS + "Identifier").text = message_id
    SubElement(letter, NS + "VersionCode").text = "XR0130K"
    SubElement(letter, NS + "StatisticalCode").text = "XRPT01"
    _date_time(letter, "Authorisation", released)
    SubElement(letter, NS + "TypeCode").text = "XRPT01"

    sender = SubElement(report, NS + "Sender")
    SubElement(sender, NS + "EANIdentifier").text = lab_ean
    SubElement(sender, NS + "Identifier").text = lab_sor
    SubElement(sender, NS + "IdentifierCode").text = "sorkode"
    SubElement(sender, NS + "OrganisationName").text = lab_name
    SubElement(sender, NS + "DepartmentName").text = lab_department
    SubElement(sender, NS + "MedicalSpecialityCode").text = "klin_biokemi"

    receiver = SubElement(report, NS + "Receiver")
    SubElement(receiver, NS + "EANIdentifier").text = gp_ean
    SubElement(receiver, NS + "Identifier").text = gp_number
    SubElement(receiver, NS + "IdentifierCode").text = "ydernummer"
    SubElement(receiver, NS + "OrganisationName").text = gp_name
    if family := hl7.get("OBR-16.2"):  # the ordering doctor's initials: Karen Nielsen → KN
        physician = SubElement(receiver, NS + "Physician")
        initials = hl7.get("OBR-16.3")[:1] + family[:1]
        SubElement(physician, NS + "PersonInitials").text = initials

    patient = SubElement(report, NS + "Patient")
    SubElement(patient, NS + "CivilRegistrationNumber").text = _required(msg.cpr or "", "CPR")
    _add(patient, "PersonSurnameName", _required(hl7.get("PID-5.1"), "PID-5.1"))
    if given := hl7.get("PID-5.2"):
        _add(patient, "PersonGivenName", f"{given} {hl7.get('PID-5.3')}".strip())

    # Every NTE of the message, one line each.
    requisition = SubElement(report, NS + "RequisitionInformation")
    notes = [hl7.value_at(i, 3, 0, 0, 0) for i in hl7.segment_indexes("NTE")]
    _add_optional(requisition, "Comments", "\n".join(notes))
    sample = SubElement(requisition, NS + "Sample")
    lab_sample = _required(hl7.get("OBR-3.1"), "OBR-3.1")
    _add(sample, "LaboratoryInternalSampleIdentifier", lab_sample)
    _add_optional(sample, "RequesterSampleIdentifier", hl7.get("OBR-2.1"))
    _date_time(sample, "SamplingDateTime", hl7.get("OBR-7"))

    results = SubElement(report, NS + "LaboratoryResults")
    general = SubElement(results, NS + "GeneralResultInformation")
    _add(general, "LaboratoryInternalProductionIdentifier", lab_sample)
    _date_time(general, "ResultsDateTime", released)

    observations = hl7.segment_indexes("OBX")
    if not observations:
        raise ValueError("no OBX, and results are required")
    for obx in observations:
        _result(hl7, obx, results, lab_sor)

    return etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1", pretty_print=True)


def _result(hl7: HL7Message, obx: int, results: etree._Element, lab_sor: str) -> None:
    def field(number: int, component: int = 0) -> str:
        return hl7.value_at(obx, number, 0, component, 0)

    status = _mapped(RESULT_STATUS, _required(field(11), "OBX-11"), "result-status")
    code, system = _required(field(3, 1), "OBX-3.1"), field(3, 3)
    npu = NPU.get((code, system)) or (None if system else NPU_ANY_SYSTEM.get(code))
    if npu is None:
        raise ValueError(f"code {code!r} (system {system!r}) is not in concept map 'npu'")
    value_type = field(2)
    result_type = _mapped(VALUE_TYPE, _required(value_type, "OBX-2"), "value-type")
    value = _required(field(5), "OBX-5")
    flag = field(8)
    validation = _mapped(ABNORMAL_FLAG, flag, "abnormal-flag") if flag else ""

    result = SubElement(results, NS + "Result")
    SubElement(result, NS + "ResultStatusCode").text = status
    analysis = SubElement(result, NS + "Analysis")
    SubElement(analysis, NS + "AnalysisCode").text = npu[0]
    SubElement(analysis, NS + "AnalysisCodeType").text = "iupac"
    SubElement(analysis, NS + "AnalysisCodeResponsible").text = "SST"
    if system != "NPU":  # the lab's own short text; for NPU codes it is the full name
        _add_optional(analysis, "AnalysisShortName", field(3, 2)[:35])
    SubElement(analysis, NS + "AnalysisCompleteName").text = npu[1]
    producer = SubElement(result, NS + "ProducerOfLabResult")
    SubElement(producer, NS + "Identifier").text = lab_sor
    SubElement(producer, NS + "IdentifierCode").text = "SOR"

    # "8.3-10.5", "<10", ">60" are physiological limits; any other text is IntervalText.
    reference = field(7)
    compact = reference.replace(" ", "")
    if compact.lstrip("<>=-")[:1].isdigit():
        interval = SubElement(result, NS + "ReferenceInterval")
        SubElement(interval, NS + "TypeOfInterval").text = "fysiologisk"
        lower = upper = ""
        if compact[:1] == ">":
            lower = compact[1:].replace("=", "")
        elif compact[:1] == "<":
            upper = compact[1:].replace("=", "")
        elif "-" in compact[1:]:
            low, _, upper = compact[1:].partition("-")
            lower = compact[:1] + low
        _add_optional(interval, "LowerLimit", lower)
        _add_optional(interval, "UpperLimit", upper)
    elif reference:
        _add(SubElement(result, NS + "ReferenceInterval"), "IntervalText", reference)

    SubElement(result, NS + "ResultType").text = result_type
    if value_type == "NM" and value[:1] in ("<", ">"):  # "<4": the operator apart
        operator = "mindre_end" if value[:1] == "<" else "stoerre_end"
        SubElement(result, NS + "Operator").text = operator
        value = _required(value[1:].replace("=", "").strip(), "OBX-5")
    _add(result, "Value", value)
    _add_optional(result, "Unit", field(6, 1))
    if validation:
        SubElement(result, NS + "ResultValidation").text = validation
