"""Routing metadata of a FHIR message Bundle: MessageHeader, Patient, sender and receiver."""

from __future__ import annotations

from typing import Any

from engine.formats.metadata import Metadata

CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
# Replacement CPR (eCPR) where a person has no CPR: X-eCPR, D-eCPR, and the older system
# (standards/medcom/identifiers.toml); CPR first when a patient has both
PERSON_SYSTEMS = (
    CPR_SYSTEM,
    "urn:oid:1.2.208.176.1.6.1.1",
    "urn:oid:1.2.208.176.1.6.1.3",
    "https://sundhedsdatastyrelsen.dk/da/registre-og-services/ecpr",
)
SOR_ENDPOINT = "https://sor2.sum.dsdn.dk/#id="  # MedCom endpoints are SOR ids as URLs


def extract_metadata(resource: dict[str, Any], charset: str = "utf-8") -> Metadata:
    # Any JSON may arrive: a field of the wrong type reads as absent, never as an error.
    entries = [_obj(_obj(e).get("resource")) for e in _list(resource.get("entry"))]
    header = _first(entries, "MessageHeader")
    patient = _first(entries, "Patient")
    encounter = _first(entries, "Encounter")
    event = _str(_obj(header.get("eventCoding")).get("code"))
    destination = _obj((_list(header.get("destination")) or [{}])[0])
    source = _obj(header.get("source"))
    identifiers = [_obj(i) for i in _list(patient.get("identifier"))]
    cprs = [
        _str(i.get("value"))
        for system in PERSON_SYSTEMS
        for i in identifiers
        if i.get("system") == system and _str(i.get("value"))
    ]
    sender, receiver = _str(source.get("endpoint")), _str(destination.get("endpoint"))
    return Metadata(
        format="fhir",
        type=event or _str(resource.get("resourceType")),
        control_id=_str(header.get("id")) or _str(resource.get("id")),
        sender=sender,
        receiver=receiver,
        version="R4",
        cpr=cprs[0] if cprs else None,
        patient_ids=cprs,
        charset=charset,
        envelope_id=resource["id"] if isinstance(resource.get("id"), str) else None,
        receipt_requested=bool(header) and event != "acknowledgement-message",
        sender_sor=_sor(sender),
        receiver_sor=_sor(receiver),
        episode_of_care_id=_episode_of_care(encounter),
    )


def _sor(endpoint: str) -> str:
    return endpoint.removeprefix(SOR_ENDPOINT) if endpoint.startswith(SOR_ENDPOINT) else ""


def _episode_of_care(encounter: dict[str, Any]) -> str:
    """The episode-of-care identifier MedCom messages carry on the Encounter."""
    for episode in _list(encounter.get("episodeOfCare")):
        value = _obj(_obj(episode).get("identifier")).get("value")
        if value and isinstance(value, (str, int)):
            return str(value)
    return ""


def _first(entries: list[dict[str, Any]], resource_type: str) -> dict[str, Any]:
    return next((r for r in entries if r.get("resourceType") == resource_type), {})


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
