"""What mappings/carecommunication-to-xdis91 does, written directly in Python: a MedCom
CareCommunication message Bundle as an XDIS91 correspondence letter (OIOXML 2006-07-01),
ISO-8859-1."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from lxml import etree
from lxml.etree import SubElement

from engine.mapping.filters import cpr_digits, fhir_to_medcom_date, fhir_to_medcom_time
from engine.pipeline.view import MessageView

FIXTURE = "fixtures/fhir/carecommunication.json"

NS = "{http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2006/07/01/}"
NSMAP = {None: NS[1:-1]}
CORE = "http://medcomfhir.dk/ig/core/StructureDefinition/"
DATETIME_EXTENSION = CORE + "medcom-core-datetime-extension"
IDENTIFIER_EXTENSION = CORE + "medcom-core-identifier-extension"
PRACTITIONER_EXTENSION = CORE + "medcom-core-practitioner-extension"
CONTACT_EXTENSION = CORE + "medcom-core-contact-extension"
CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
REPLACEMENT_CPR_SYSTEMS = ("urn:oid:1.2.208.176.1.6.1.1", "urn:oid:1.2.208.176.1.6.1.3")
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
GLN_SYSTEM = "https://www.gs1.org/gln"
PRIORITY_SENTENCE = "Denne meddelelse har høj prioritet."

# The concept maps (conceptmaps/*.csv), as the mapping reads them.
LETTER_STATUS = {  # the Provenance activity of this message
    "new-message": "nytbrev",
    "modified-message": "rettetbrev",
    "reply-message": "nytbrev",
    "forward-message": "nytbrev",
    "carboncopy-message": "nytbrev",
}
REQUEST_PRIORITY = {"routine": "rutine", "asap": "høj_prioritet"}
CATEGORY_SUBJECT = {
    "alcohol-and-drug-treatment": "Rusmiddelbehandling",
    "assistive-devices": "Hjælpemidler",
    "carecoordination": "Forløbskoordinering",
    "decease": "Dødsfald",
    "discharge": "Udskrivelse",
    "examination-results": "Undersøgelsessvar",
    "healthcare": "Sundhedspleje",
    "home-care-assessment": "Visitation",
    "medicine": "Medicin",
    "nursing": "Sygepleje",
    "outpatient": "Ambulant",
    "psychiatry-social-disability": "Psykiatri, social, handicap",
    "regarding-referral": "Vedr. henvisning",
    "telemedicine": "Telemedicin",
    "training": "Træning",
    "acute-ambulant": "Akut ambulant",
    "extended-care-responsibility": "Udvidet behandlingsansvar",
    "other": "Andet",
}
ATTACHMENT_EXTENSION = {
    "application/pdf": "pdf",
    "image/jpeg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/tiff": "tiff",
    "image/bmp": "bmp",
    "image/x-pcx": "pcx",
    "application/dicom": "dcm",
    "text/plain": "txt",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "video/mpeg": "mpg",
    "video/x-msvideo": "avi",
    "audio/midi": "mid",
}
OBJECT_CODES = {
    "tekstfil",
    "billede",
    "program",
    "vektor_grafik",
    "biosignaler",
    "multimedie",
    "proprietaert_indhold",
}


def _read_roles() -> dict[str, dict[str, str]]:
    """conceptmaps/practitioner-role.csv (MedCom's two role code systems, 70 rows): code →
    code system → Danish display."""
    path = (
        Path(__file__).resolve().parents[2]
        / "mappings/carecommunication-to-xdis91/conceptmaps/practitioner-role.csv"
    )
    roles: dict[str, dict[str, str]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            roles.setdefault(row["source_code"], {})[row["source_system"]] = row["target_code"]
    return roles


PRACTITIONER_ROLE = _read_roles()


def _mapped(table: dict[str, str], code: str, name: str) -> str:
    try:
        return table[code]
    except KeyError:
        raise ValueError(f"code {code!r} is not in concept map {name!r}") from None


def _required(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"{what}: no value, and it is required")
    return value


def _role(code: str, system: str) -> str:
    """A role code's Danish display: by its code system, or the only row for the code."""
    rows = PRACTITIONER_ROLE.get(code, {})
    if system in rows:
        return rows[system]
    if len(rows) == 1 and not system:
        return next(iter(rows.values()))
    raise ValueError(f"code {code!r} (system {system!r}) is not in concept map 'practitioner-role'")


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


def _value(element: dict[str, Any]) -> Any:
    """An element's value[x] (valueDateTime, valueReference...), None if it has none."""
    return next((v for k, v in element.items() if k.startswith("value")), None)


def _extension(item: dict[str, Any], url: str) -> Any:
    for extension in item.get("extension", ()):
        if extension.get("url") == url and (value := _value(extension)) is not None:
            return value
    return None


def _identifier(resource: dict[str, Any], *systems: str) -> str:
    return next(
        (i.get("value", "") for i in resource.get("identifier", ()) if i.get("system") in systems),
        "",
    )


def _last_part(reference: Any) -> str:
    return (reference or {}).get("reference", "").split("/")[-1]


def by_hand(msg: MessageView) -> bytes:
    bundle = msg.parsed
    entries = bundle.get("entry", [])
    resources: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        resource = entry.get("resource", {})
        resources.setdefault(resource.get("resourceType", ""), []).append(resource)
    header = (resources.get("MessageHeader") or [{}])[0]
    patient = (resources.get("Patient") or [{}])[0]
    encounter = (resources.get("Encounter") or [{}])[0]
    communication = (resources.get("Communication") or [{}])[0]
    payloads = communication.get("payload", [])
    texts = [p for p in payloads if "contentString" in p]
    if not texts:
        raise ValueError("no text payload, and the letter needs one")
    first_text = texts[0]

    root = etree.Element(NS + "Emessage", nsmap=NSMAP)
    timestamp = _required(bundle.get("timestamp", ""), "Bundle.timestamp")
    envelope = SubElement(root, NS + "Envelope")
    sent = SubElement(envelope, NS + "Sent")
    SubElement(sent, NS + "Date").text = fhir_to_medcom_date(timestamp)
    SubElement(sent, NS + "Time").text = fhir_to_medcom_time(timestamp)
    bundle_id = _required(bundle.get("id", ""), "Bundle.id")
    SubElement(envelope, NS + "Identifier").text = bundle_id.replace("-", "")[:14]
    SubElement(envelope, NS + "AcknowledgementCode").text = "pluspositivkvitt"

    email = SubElement(root, NS + "ClinicalEmail")
    letter = SubElement(email, NS + "Letter")
    header_id = _required(header.get("id", ""), "MessageHeader.id")
    SubElement(letter, NS + "Identifier").text = header_id.replace("-", "")[:14]
    SubElement(letter, NS + "VersionCode").text = "XD9134L"
    SubElement(letter, NS + "StatisticalCode").text = "XDIS91"
    authorised = _required(
        _extension(first_text, DATETIME_EXTENSION) or "", "the text payload's date"
    )
    authorisation = SubElement(letter, NS + "Authorisation")
    SubElement(authorisation, NS + "Date").text = fhir_to_medcom_date(authorised)
    SubElement(authorisation, NS + "Time").text = fhir_to_medcom_time(authorised)
    SubElement(letter, NS + "TypeCode").text = "XDIS91"
    # The Provenance of this message is the one whose target is the MessageHeader.
    activity = next(
        (
            coding["code"]
            for provenance in resources.get("Provenance", ())
            if any(
                t.get("reference", "").endswith("MessageHeader/" + header_id)
                for t in provenance.get("target", ())
            )
            for coding in provenance.get("activity", {}).get("coding", ())
            if coding.get("code")
        ),
        "",
    )
    status = _mapped(
        LETTER_STATUS, _required(activity, "Provenance.activity"), "activity-to-letter-status"
    )
    SubElement(letter, NS + "StatusCode").text = status
    episode = next(
        (
            e["identifier"]["value"]
            for e in encounter.get("episodeOfCare", ())
            if e.get("identifier", {}).get("value")
        ),
        "",
    )
    _add_optional(letter, "EpisodeOfCareIdentifier", episode.replace("-", "")[:35])

    # Sender (with the author's telephone) and the primary receiver
    sender_reference = header.get("sender", {}).get("reference")
    receiver_references = [
        d["receiver"]["reference"]
        for d in header.get("destination", ())
        if d.get("receiver", {}).get("reference")
        and any(e.get("valueCoding", {}).get("code") == "primary" for e in d.get("extension", ()))
    ]
    sender = receiver = None
    for entry in entries:
        resource = entry.get("resource", {})
        if resource.get("resourceType") != "Organization":
            continue
        names = (f"Organization/{resource.get('id')}", entry.get("fullUrl"))
        if sender is None and sender_reference and sender_reference in names:
            sender = resource
        if receiver is None and any(r in names for r in receiver_references):
            receiver = resource
    if sender is None or receiver is None:
        raise ValueError("the MessageHeader's sender and receiver Organizations are required")
    party = _organisation(email, "Sender", sender)
    contact = _extension(first_text, CONTACT_EXTENSION) or {}
    phone = contact.get("value", "")
    _add_optional(
        party, "TelephoneSubscriberIdentifier", "" if phone == "0000 0000" else phone[:25]
    )
    _organisation(email, "Receiver", receiver)

    # Patient
    element = SubElement(email, NS + "Patient")
    if cpr := _identifier(patient, CPR_SYSTEM):
        _add(element, "CivilRegistrationNumber", cpr_digits(cpr))
    else:
        _add_optional(
            element, "AlternativeIdentifier", _identifier(patient, *REPLACEMENT_CPR_SYSTEMS)
        )
    names = patient.get("name", [])
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    _add(element, "PersonSurnameName", _required(name.get("family", ""), "Patient.name.family"))
    _add_optional(element, "PersonGivenName", " ".join(name.get("given", ())))
    addresses = patient.get("address", ())
    lines = [line for a in addresses for line in a.get("line", ())]
    _add_optional(element, "StreetName", lines[0] if lines else "")
    _add_optional(element, "DistrictName", next((a["city"] for a in addresses if "city" in a), ""))
    _add_optional(
        element,
        "PostCodeIdentifier",
        next((a["postalCode"] for a in addresses if "postalCode" in a), ""),
    )
    deceased = patient.get("deceasedBoolean", patient.get("deceasedDateTime"))
    encounter_status = encounter.get("status")
    encounter_class = encounter.get("class", {}).get("code")
    if deceased:
        care_status = "doed"
    elif encounter_status == "in-progress" and encounter_class == "IMP":
        care_status = "indlagt"
    elif encounter_status == "in-progress" and encounter_class in ("AMB", "EMER"):
        care_status = "ambulant"
    else:
        care_status = "inaktiv"
    SubElement(element, NS + "EpisodeOfCareStatusCode").text = care_status

    # AdditionalInformation: priority (or the sentence XDIS91 → FHIR writes), subject
    if priority := communication.get("priority"):
        priority = _mapped(REQUEST_PRIORITY, priority, "request-priority")
    elif first_text["contentString"].startswith(PRIORITY_SENTENCE):
        priority = "høj_prioritet"
    topic = communication.get("topic", {}).get("text", "")
    if topic == "Ukendt emne":
        topic = ""
    code = next(
        (
            c["code"]
            for category in communication.get("category", ())
            for c in category.get("coding", ())
            if c.get("code")
        ),
        "",
    )
    category = (
        _mapped(CATEGORY_SUBJECT, code, "category-subject") if code not in ("", "other") else ""
    )
    subject = ", ".join(part for part in (category, topic) if part)[:70]
    if priority or subject:
        information = SubElement(email, NS + "AdditionalInformation")
        _add_optional(information, "Priority", priority)
        _add_optional(information, "Subject", subject)

    # ClinicalInformation: each text payload, its author's name and role appended
    practitioners = {p.get("id"): p for p in resources.get("Practitioner", ())}
    roles = {r.get("id"): r for r in resources.get("PractitionerRole", ())}
    for payload in texts:
        text = _required(payload["contentString"], "contentString")
        text = (
            text.replace("\r\n", "\n")
            .replace("<br/>", "\n")
            .replace("<br />", "\n")
            .replace("<br>", "\n")
        )
        if text.startswith(PRIORITY_SENTENCE):
            text = text[len(PRIORITY_SENTENCE) :].lstrip("\n")
        role = roles.get(_last_part(_extension(payload, PRACTITIONER_EXTENSION))) or {}
        person = practitioners.get(_last_part(role.get("practitioner"))) or {}
        person_name = (person.get("name") or [{}])[0]
        author = " ".join(
            part
            for part in (" ".join(person_name.get("given", ())), person_name.get("family"))
            if part
        )
        coding = next((c for code in role.get("code", ()) for c in code.get("coding", ())), {})
        position = coding.get("display", "")
        role_code = coding.get("code", "")
        if not position and role_code and role_code != "NAVU":
            position = _role(role_code, coding.get("system", ""))
        if author or position:
            text += "" if text.endswith("\n") else "\n"
        if author:
            text += f"Forfatter: {author}\n"
        if position:
            text += f"Stilling: {position}\n"
        _add(SubElement(email, NS + "ClinicalInformation"), "Text01", _required(text, "Text01"))

    # Reference: each attachment, as a BIN reference (with content) or a URL reference
    for payload in payloads:
        attachment = payload.get("contentAttachment")
        if attachment is None:
            continue
        reference = SubElement(email, NS + "Reference")
        data = attachment.get("data", "")
        if not data:
            _add(reference, "RefDescription", (attachment.get("title") or "Link")[:70])
            _add_optional(reference, "URL", attachment.get("url", ""))
            continue
        _add(reference, "RefDescription", "BIN")
        identifier = (_extension(payload, IDENTIFIER_EXTENSION) or {}).get("value", "")
        binary = SubElement(reference, NS + "BIN")
        object_id = identifier.replace("urn:uuid:", "").replace("-", "")[:35]
        _add(binary, "ObjectIdentifier", _required(object_id, "the attachment's identifier"))
        title = attachment.get("title", "")
        _add(binary, "ObjectCode", title if title in OBJECT_CODES else "proprietaert_indhold")
        content_type = _required(attachment.get("contentType", ""), "contentType")
        _add(
            binary,
            "ObjectExtensionCode",
            _mapped(ATTACHMENT_EXTENSION, content_type, "attachment-extension"),
        )
        data = "".join(data.split())
        _add(binary, "OriginalObjectSize", str(len(data) // 4 * 3 - data[-2:].count("=")))

    return etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1", pretty_print=True)


def _organisation(email: etree._Element, tag: str, organization: dict[str, Any]) -> etree._Element:
    """EAN (GLN), SOR as Identifier ('sorkode'), the name split into its parts."""
    party = SubElement(email, NS + tag)
    _add(party, "EANIdentifier", _required(_identifier(organization, GLN_SYSTEM), f"{tag} GLN"))
    _add(party, "Identifier", _required(_identifier(organization, SOR_SYSTEM), f"{tag} SOR"))
    SubElement(party, NS + "IdentifierCode").text = "sorkode"
    parts = organization.get("name", "").split(", ")
    _add_optional(party, "OrganisationName", parts[0][:35])
    _add_optional(party, "DepartmentName", parts[1][:35] if len(parts) > 1 else "")
    _add_optional(party, "UnitName", ", ".join(parts[2:])[:35])
    return party
