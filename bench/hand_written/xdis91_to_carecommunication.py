"""What mappings/xdis91-to-carecommunication does, written directly in Python: a MedCom
XDIS91 correspondence letter (OIOXML 2006-07-01) as a MedCom CareCommunication Bundle."""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from engine.mapping.filters import medcom_to_fhir_datetime, sor_url, uuid_for
from engine.pipeline.view import MessageView

FIXTURE = "fixtures/oioxml/xdis91_correspondence.xml"

MEDCOM = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2006/07/01/"
M = {"m": MEDCOM}
BASE = "https://medcomfhir.dk/ig/carecommunication/"
CARECOMMUNICATION = "http://medcomfhir.dk/ig/carecommunication/StructureDefinition/"
CORE = "http://medcomfhir.dk/ig/core/StructureDefinition/"
CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
GLN_SYSTEM = "https://www.gs1.org/gln"
MUNICIPALITY_SYSTEM = "http://hl7.dk/fhir/core/CodeSystem/dk-core-municipality-codes"
ACTIVITY_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-activityCodes"
ORGANIZATION_PROFILE = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-organization"
)
PRIORITY_SENTENCE = "Denne meddelelse har høj prioritet.\n"

# The concept maps (conceptmaps/*.csv), as the mapping reads them.
EAN_TO_SOR = {  # EAN → (SOR code, SOR name, municipality code, telephone)
    "5790001382445": ("359001000016000", "MedCom testcenter", "", "66131372"),
    "5790000121441": ("328051000016008", "Hjemmeplejen, Odense Kommune", "0461", ""),
    "5790001234567": (
        "456781000016009",
        "Regionshospitalet Horsens, Medicinsk Afdeling M101",
        "",
        "78450000",
    ),
    "5790000345678": ("789011000016004", "Horsens Kommune, Hjemmeplejen", "0615", "76292525"),
}
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ENCOUNTER_CLASS = {  # unlisted: MedCom's class "other"
    "indlagt": (ACT_CODE, "IMP"),
    "ambulant": (ACT_CODE, "AMB"),
    "ambulant_roentgen": (ACT_CODE, "AMB"),
}
OTHER_CLASS = (
    "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-core-encounter-act-codes",
    "other",
)
ENCOUNTER_STATUS = {  # unlisted: "unknown"
    "indlagt": "in-progress",
    "ambulant": "in-progress",
    "ambulant_roentgen": "in-progress",
    "inaktiv": "finished",
    "doed": "finished",
}
LETTER_STATUS = {"nytbrev": "new-message", "rettetbrev": "modified-message"}


def _mapped(table: dict[str, Any], code: str, name: str) -> Any:
    try:
        return table[code]
    except KeyError:
        raise ValueError(f"code {code!r} is not in concept map {name!r}") from None


def _required(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"{what}: no value, and it is required")
    return value


def _inner(node: Any) -> str:
    parts = [node.text or ""]
    for child in node:
        if isinstance(child.tag, str):
            name = etree.QName(child).localname
            if name in ("Break", "br"):
                parts.append("\n")
            elif name == "Space":
                parts.append(" ")
            else:
                parts.append(_inner(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _text(node: Any, path: str) -> str:
    """The trimmed text of the first element at `path` ("" when absent): MedCom's
    <Break/> as a newline, <Space/> as a space."""
    found = node.find(path, M)
    if found is None:
        return ""
    return (found.text or "").strip() if not len(found) else _inner(found).strip()


def _date_time(node: Any, path: str) -> str:
    return medcom_to_fhir_datetime(_text(node, f"{path}/m:Date"), _text(node, f"{path}/m:Time"))


def _entry(kind: str, id_: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": f"{BASE}{kind}/{id_}",
        "resource": {"resourceType": kind, "id": id_, **resource},
    }


def _organisation_name(party: Any, sor_name: str) -> str:
    """SOR's name, else the letter's organisation, department and unit names."""
    if sor_name:
        return sor_name
    names = (_text(party, f"m:{n}") for n in ("OrganisationName", "DepartmentName", "UnitName"))
    return ", ".join(n for n in names if n)


def by_hand(msg: MessageView) -> bytes:
    emessage = msg.parsed
    email = emessage.find("m:ClinicalEmail", M)
    if email is None:
        raise ValueError("not a correspondence letter: no ClinicalEmail")
    sender = email.find("m:Sender", M)
    receiver = email.find("m:Receiver", M)
    patient = email.find("m:Patient", M)
    if sender is None or receiver is None or patient is None:
        raise ValueError("Sender, Receiver and Patient are required")

    sender_ean = _text(sender, "m:EANIdentifier")
    letter = f"{sender_ean}/{_text(email, 'm:Letter/m:Identifier')}"
    sent = _date_time(emessage, "m:Envelope/m:Sent")
    authorised = _date_time(email, "m:Letter/m:Authorisation")
    bundle_id = uuid_for("Bundle", sender_ean, _text(emessage, "m:Envelope/m:Identifier"))
    header_id = uuid_for("MessageHeader", letter)
    patient_id = uuid_for("Patient", letter)
    encounter_id = uuid_for("Encounter", letter)
    communication_id = uuid_for("Communication", letter)
    role_id = uuid_for("PractitionerRole", letter)
    practitioner_id = uuid_for("Practitioner", letter)
    sender_id = uuid_for("Organization", letter, "Sender")
    receiver_id = uuid_for("Organization", letter, "Receiver")
    provenance_id = uuid_for("Provenance", letter)

    sender_sor, sender_name, sender_municipality, sender_phone = _mapped(
        EAN_TO_SOR, _required(sender_ean, "Sender/EANIdentifier"), "ean-to-sor"
    )
    receiver_ean = _required(_text(receiver, "m:EANIdentifier"), "Receiver/EANIdentifier")
    receiver_sor, receiver_name, receiver_municipality, _ = _mapped(
        EAN_TO_SOR, receiver_ean, "ean-to-sor"
    )
    sender_ref = {"reference": f"Organization/{sender_id}"}
    episode = _text(email, "m:Letter/m:EpisodeOfCareIdentifier")

    # Patient: CPR, or a replacement CPR (D-eCPR when its 7th digit is 1 or 7, else X-eCPR)
    resource: dict[str, Any] = {"meta": {"profile": [CORE + "medcom-core-patient"]}}
    if alternative := _text(patient, "m:AlternativeIdentifier"):
        system = "urn:oid:1.2.208.176.1.6.1." + ("1" if alternative[6:7] in ("1", "7") else "3")
        resource["identifier"] = [{"system": system, "value": alternative}]
    elif cpr := _text(patient, "m:CivilRegistrationNumber"):
        resource["identifier"] = [{"system": CPR_SYSTEM, "value": cpr}]
    name: dict[str, Any] = {
        "use": "official",
        "family": _required(_text(patient, "m:PersonSurnameName"), "PersonSurnameName"),
    }
    if given := patient.findtext("m:PersonGivenName", "", M).split():
        name["given"] = given
    resource["name"] = [name]
    address: dict[str, Any] = {}
    if street := _text(patient, "m:StreetName"):
        address["line"] = [street]
    if city := _text(patient, "m:DistrictName"):
        address["city"] = city
    if postal_code := _text(patient, "m:PostCodeIdentifier"):
        address["postalCode"] = postal_code
    if address:
        resource["address"] = [address]
    entries = [
        _entry(
            "MessageHeader",
            header_id,
            {
                "meta": {"profile": [CARECOMMUNICATION + "medcom-careCommunication-messageHeader"]},
                "eventCoding": {
                    "system": "http://medcomfhir.dk/ig/terminology/CodeSystem/"
                    "medcom-messaging-eventCodes",
                    "code": "care-communication-message",
                },
                "destination": [
                    {
                        "extension": [
                            {
                                "url": "http://medcomfhir.dk/ig/messaging/StructureDefinition/"
                                "medcom-messaging-destinationUseExtension",
                                "valueCoding": {
                                    "system": "http://medcomfhir.dk/ig/terminology/CodeSystem/"
                                    "medcom-messaging-destinationUse",
                                    "code": "primary",
                                },
                            }
                        ],
                        "endpoint": sor_url(receiver_sor),
                        "receiver": {"reference": f"Organization/{receiver_id}"},
                    }
                ],
                "sender": sender_ref,
                "source": {"endpoint": sor_url(sender_sor)},
                "focus": [{"reference": f"Communication/{communication_id}"}],
                "definition": "http://medcomfhir.dk/ig/carecommunication/"
                "medcom-careCommunication-message-definition|4.0.0",
            },
        ),
        _entry("Patient", patient_id, resource),
    ]

    # Encounter: only for a letter with an episode of care (hex UUIDs get their hyphens)
    if episode:
        status_code = _text(patient, "m:EpisodeOfCareStatusCode")
        class_system, class_code = ENCOUNTER_CLASS.get(status_code, OTHER_CLASS)
        if len(episode) == 32:
            episode = "-".join(
                (episode[:8], episode[8:12], episode[12:16], episode[16:20], episode[20:])
            )
        entries.append(
            _entry(
                "Encounter",
                encounter_id,
                {
                    "meta": {"profile": [CORE + "medcom-core-encounter"]},
                    "status": ENCOUNTER_STATUS.get(status_code, "unknown"),
                    "class": {"system": class_system, "code": class_code},
                    "subject": {"reference": f"Patient/{patient_id}"},
                    "episodeOfCare": [
                        {"identifier": {"system": sor_url(sender_sor), "value": episode}}
                    ],
                },
            )
        )

    # Communication: one text payload per ClinicalInformation
    contact = _text(sender, "m:TelephoneSubscriberIdentifier") or sender_phone or "0000 0000"
    high_priority = _text(email, "m:AdditionalInformation/m:Priority") == "høj_prioritet"
    payloads, entities = [], []
    for index, information in enumerate(email.iterfind("m:ClinicalInformation", M), 1):
        text = _required(_text(information, "m:Text01"), "ClinicalInformation/Text01")
        if index == 1 and high_priority:
            text = PRIORITY_SENTENCE + text
        payload_id = f"urn:uuid:{uuid_for('payload', letter, index)}"
        payloads.append(
            {
                "extension": [
                    {"url": CORE + "medcom-core-datetime-extension", "valueDateTime": authorised},
                    {
                        "url": CORE + "medcom-core-identifier-extension",
                        "valueIdentifier": {"value": payload_id, "assigner": sender_ref},
                    },
                    {
                        "url": CORE + "medcom-core-practitioner-extension",
                        "valueReference": {"reference": f"PractitionerRole/{role_id}"},
                    },
                    {
                        "url": CORE + "medcom-core-contact-extension",
                        "valueContactPoint": {"system": "phone", "value": contact},
                    },
                ],
                "contentString": text,
            }
        )
        entities.append({"role": "source", "what": {"identifier": {"value": payload_id}}})
    if not payloads:
        raise ValueError("no ClinicalInformation, and a payload is required")
    communication: dict[str, Any] = {
        "meta": {"profile": [CARECOMMUNICATION + "medcom-careCommunication-communication"]},
        "identifier": [{"value": f"urn:uuid:{uuid_for('Communication.identifier', letter)}"}],
        "status": "unknown",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://medcomfhir.dk/ig/terminology/CodeSystem/"
                        "medcom-careCommunication-categoryCodes",
                        "code": "other",
                    }
                ]
            }
        ],
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    if episode:
        communication["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    subject = _text(email, "m:AdditionalInformation/m:Subject") or "Ukendt emne"
    communication["topic"] = {"text": subject}
    communication["payload"] = payloads
    entries.append(_entry("Communication", communication_id, communication))

    # The author: role 'ukendt' (NullFlavor NAVU), named by the sending organisation
    sender_full_name = _organisation_name(sender, sender_name)
    entries.append(
        _entry(
            "PractitionerRole",
            role_id,
            {
                "meta": {"profile": [CORE + "medcom-core-practitionerrole"]},
                "practitioner": {"reference": f"Practitioner/{practitioner_id}"},
                "code": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
                                "code": "NAVU",
                            }
                        ],
                        "text": "ukendt",
                    }
                ],
            },
        )
    )
    practitioner: dict[str, Any] = {"meta": {"profile": [CORE + "medcom-core-practitioner"]}}
    if sender_full_name:
        practitioner["name"] = [{"text": sender_full_name}]
    entries.append(_entry("Practitioner", practitioner_id, practitioner))

    # Organisations: GLN, SOR, a municipality's code, name
    for party, party_id, ean, sor, sor_name, municipality in (
        (sender, sender_id, sender_ean, sender_sor, sender_name, sender_municipality),
        (receiver, receiver_id, receiver_ean, receiver_sor, receiver_name, receiver_municipality),
    ):
        identifiers = [
            {"system": GLN_SYSTEM, "value": ean},
            {"system": SOR_SYSTEM, "value": sor},
        ]
        if _text(party, "m:IdentifierCode") == "kommunenummer":
            own = _text(party, "m:Identifier")  # the code itself, else SOR's
            if len(own) <= 4 and own.isdigit():
                identifiers.append({"system": MUNICIPALITY_SYSTEM, "value": own.rjust(4, "0")})
            elif municipality:
                identifiers.append({"system": MUNICIPALITY_SYSTEM, "value": municipality})
        organization: dict[str, Any] = {
            "meta": {"profile": [ORGANIZATION_PROFILE]},
            "identifier": identifiers,
        }
        if full_name := _organisation_name(party, sor_name):
            organization["name"] = full_name
        entries.append(_entry("Organization", party_id, organization))

    # Provenance: new-message or modified-message, one entity per payload
    status = _required(_text(email, "m:Letter/m:StatusCode"), "Letter/StatusCode")
    entries.append(
        _entry(
            "Provenance",
            provenance_id,
            {
                "meta": {"profile": [CARECOMMUNICATION + "medcom-careCommunication-provenance"]},
                "target": [{"reference": f"MessageHeader/{header_id}"}],
                "occurredDateTime": sent,
                "recorded": sent,
                "activity": {
                    "coding": [
                        {
                            "system": ACTIVITY_SYSTEM,
                            "code": _mapped(LETTER_STATUS, status, "letter-status"),
                        }
                    ]
                },
                "agent": [{"who": sender_ref}],
                "entity": entities,
            },
        )
    )

    bundle = {
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": {"profile": [CARECOMMUNICATION + "medcom-careCommunication-message"]},
        "type": "message",
        "timestamp": sent,
        "entry": entries,
    }
    return json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()
