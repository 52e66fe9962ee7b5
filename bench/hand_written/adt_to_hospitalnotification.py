"""What mappings/adt-to-hospitalnotification does, written directly in Python: an inpatient
ADT^A01 (admit) or ADT^A03 (discharge home) as a MedCom HospitalNotification Bundle."""

from __future__ import annotations

import json
from typing import Any

from engine.formats.hl7v2 import HL7Message
from engine.mapping.filters import cpr_digits, hl7_to_fhir_datetime, sor_url, uuid_for
from engine.pipeline.view import MessageView

FIXTURE = "fixtures/hl7v2/adt_a01_admit.hl7"

BASE = "https://medcomfhir.dk/ig/hospitalnotification/"
PROFILE = "http://medcomfhir.dk/ig/hospitalnotification/StructureDefinition/"
ORGANIZATION_PROFILE = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-organization"
)
CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
GLN_SYSTEM = "https://www.gs1.org/gln"

# The concept maps (conceptmaps/*.csv), as the mapping reads them.
EVENT = {"A01": "hospital-notification-message", "A03": "hospital-notification-message"}
ENCOUNTER_STATUS = {"A01": "in-progress", "A03": "finished"}
DISCHARGE_DISPOSITION = {"01": "finished", "06": "finished"}  # home / home with home care
ENCOUNTER_CLASS = {"I": "IMP"}
ACTIVITY = {("A01", "I"): "admit-inpatient", ("A03", "I"): "discharge-inpatient-home"}
SENDER = {  # MSH-4.1 → (SOR code, GLN, name)
    "RHH": ("456781000016009", "5790001234567", "Regionshospitalet Horsens, Medicinsk Afdeling"),
}
RECEIVER = {  # PID-11.5 (postal code) → (SOR code, GLN, name)
    "8700": ("789011000016004", "5790000345678", "Horsens Kommune"),
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


def by_hand(msg: MessageView) -> bytes:
    hl7: HL7Message = msg.parsed
    event = _required(hl7.get("MSH-9.2"), "MSH-9.2")
    patient_class = _required(hl7.get("PV1-2"), "PV1-2")
    facility = hl7.get("MSH-4.1")
    postal_code = hl7.get("PID-11.5")
    visit = _required(hl7.get("PV1-19"), "PV1-19")
    discharge = msg.type == "ADT^A03"

    event_code = _mapped(EVENT, event, "hospital-notification-event")
    status = _mapped(ENCOUNTER_STATUS, event, "encounter-status")
    if discharge and (disposition := hl7.get("PV1-36")):
        status = _mapped(DISCHARGE_DISPOSITION, disposition, "discharge-disposition")
    encounter_class = _mapped(ENCOUNTER_CLASS, patient_class, "encounter-class")
    activity = _mapped(ACTIVITY, (event, patient_class), "hospital-notification-activity")
    sender_sor, sender_gln, sender_name = _mapped(SENDER, facility, "sender-organisation")
    receiver_sor, receiver_gln, receiver_name = _mapped(
        RECEIVER, postal_code, "receiver-organisation"
    )

    sent = hl7_to_fhir_datetime(hl7.get("MSH-7"))
    # Admitted (PV1-44; an admission may fall back on EVN-2) and, on a discharge,
    # discharged (PV1-45, else EVN-2).
    event_time = hl7.get("EVN-2")
    start = hl7.get("PV1-44") or ("" if discharge else event_time)
    period = {"start": hl7_to_fhir_datetime(_required(start, "PV1-44"))}
    if discharge:
        end = hl7.get("PV1-45") or event_time
        period["end"] = hl7_to_fhir_datetime(_required(end, "PV1-45"))

    header_id = uuid_for("MessageHeader", msg.sender, msg.control_id)
    provenance_id = uuid_for("Provenance", header_id)
    patient_id = uuid_for("Patient", msg.cpr)
    encounter_id = uuid_for("Encounter", facility, hl7.get("PV1-19"))
    sender_id = uuid_for("Organization", "sender", facility)
    receiver_id = uuid_for("Organization", "receiver", postal_code)

    # Patient: only the CPR identifiers of PID-3, and the first PID-5 as the official name.
    seps = hl7.separators
    identifiers = [
        {"system": CPR_SYSTEM, "value": cpr_digits(hl7.narrow(cx, 1, 1, 0))}
        for cx in hl7.get("PID-3").split(seps.repetition)
        if cx and (hl7.narrow(cx, 1, 4, 0) == "CPR" or hl7.narrow(cx, 1, 5, 0) in ("NNDN", "NNDK"))
    ]
    if not identifiers:
        raise ValueError("PID-3: no CPR number, and it is required")
    xpn = next((rep for rep in hl7.get("PID-5").split(seps.repetition) if rep), "")
    name: dict[str, object] = {
        "use": "official",
        "family": _required(hl7.narrow(xpn, 1, 1, 0), "PID-5.1"),
    }
    given = [g for g in (hl7.narrow(xpn, 1, 2, 0), hl7.narrow(xpn, 1, 3, 0)) if g]
    if given:
        name["given"] = given

    sender_ref = {"reference": f"Organization/{sender_id}"}
    bundle = {
        "resourceType": "Bundle",
        "id": uuid_for("Bundle", msg.sender, msg.control_id),
        "meta": {"profile": [PROFILE + "medcom-hospitalNotification-message"]},
        "type": "message",
        "timestamp": sent,
        "entry": [
            {
                "fullUrl": f"{BASE}MessageHeader/{header_id}",
                "resource": {
                    "resourceType": "MessageHeader",
                    "id": header_id,
                    "meta": {"profile": [PROFILE + "medcom-hospitalNotification-messageHeader"]},
                    "eventCoding": {
                        "system": "http://medcomfhir.dk/ig/terminology/CodeSystem/"
                        "medcom-messaging-eventCodes",
                        "code": event_code,
                    },
                    "destination": [
                        {
                            "extension": [
                                {
                                    "url": "http://medcomfhir.dk/ig/messaging/StructureDefinition/"
                                    "medcom-messaging-destinationUseExtension",
                                    "valueCoding": {
                                        "system": "http://medcomfhir.dk/ig/terminology/"
                                        "CodeSystem/medcom-messaging-destinationUse",
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
                    "focus": [{"reference": f"Encounter/{encounter_id}"}],
                },
            },
            {
                "fullUrl": f"{BASE}Patient/{patient_id}",
                "resource": {
                    "resourceType": "Patient",
                    "id": patient_id,
                    "meta": {
                        "profile": [
                            "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient"
                        ]
                    },
                    "identifier": identifiers,
                    "name": [name],
                },
            },
            {
                "fullUrl": f"{BASE}Encounter/{encounter_id}",
                "resource": {
                    "resourceType": "Encounter",
                    "id": encounter_id,
                    "meta": {"profile": [PROFILE + "medcom-hospitalNotification-encounter"]},
                    "status": status,
                    "class": {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                        "code": encounter_class,
                    },
                    "subject": {"reference": f"Patient/{patient_id}"},
                    "episodeOfCare": [
                        {
                            "identifier": {
                                "system": sor_url(sender_sor),
                                "value": uuid_for("episode-of-care", facility, visit),
                            }
                        }
                    ],
                    "period": period,
                    "serviceProvider": sender_ref,
                },
            },
            {
                "fullUrl": f"{BASE}Organization/{sender_id}",
                "resource": {
                    "resourceType": "Organization",
                    "id": sender_id,
                    "meta": {"profile": [ORGANIZATION_PROFILE]},
                    "identifier": [
                        {"system": GLN_SYSTEM, "value": sender_gln},
                        {"system": SOR_SYSTEM, "value": sender_sor},
                    ],
                    "name": sender_name,
                },
            },
            {
                "fullUrl": f"{BASE}Organization/{receiver_id}",
                "resource": {
                    "resourceType": "Organization",
                    "id": receiver_id,
                    "meta": {"profile": [ORGANIZATION_PROFILE]},
                    "identifier": [
                        {"system": GLN_SYSTEM, "value": receiver_gln},
                        {"system": SOR_SYSTEM, "value": receiver_sor},
                    ],
                    "name": receiver_name,
                },
            },
            {
                "fullUrl": f"{BASE}Provenance/{provenance_id}",
                "resource": {
                    "resourceType": "Provenance",
                    "id": provenance_id,
                    "meta": {
                        "profile": [
                            "http://medcomfhir.dk/ig/messaging/StructureDefinition/"
                            "medcom-messaging-provenance"
                        ]
                    },
                    "target": [{"reference": f"MessageHeader/{header_id}"}],
                    "occurredDateTime": sent,
                    "recorded": sent,
                    "activity": {
                        "coding": [
                            {
                                "system": "http://medcomfhir.dk/ig/terminology/CodeSystem/"
                                "medcom-messaging-activityCodes",
                                "code": activity,
                            }
                        ]
                    },
                    "agent": [{"who": sender_ref}],
                },
            },
        ],
    }
    return json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()
