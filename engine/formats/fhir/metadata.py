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
    entries = [e.get("resource", {}) for e in resource.get("entry", []) if isinstance(e, dict)]
    header = _first(entries, "MessageHeader")
    patient = _first(entries, "Patient")
    encounter = _first(entries, "Encounter")
    event = (header.get("eventCoding") or {}).get("code", "")
    destination = (header.get("destination") or [{}])[0]
    source = header.get("source") or {}
    identifiers = [i for i in patient.get("identifier", []) if isinstance(i, dict)]
    cprs = [
        i["value"]
        for system in PERSON_SYSTEMS
        for i in identifiers
        if i.get("system") == system and i.get("value")
    ]
    return Metadata(
        format="fhir",
        type=event or resource.get("resourceType", ""),
        control_id=header.get("id", "") or resource.get("id", ""),
        sender=source.get("endpoint", ""),
        receiver=destination.get("endpoint", ""),
        version="R4",
        cpr=cprs[0] if cprs else None,
        patient_ids=cprs,
        charset=charset,
        envelope_id=resource.get("id"),
        receipt_requested=bool(header) and event != "acknowledgement-message",
        sender_sor=_sor(source.get("endpoint", "")),
        receiver_sor=_sor(destination.get("endpoint", "")),
        episode_of_care_id=_episode_of_care(encounter),
    )


def _sor(endpoint: str) -> str:
    return endpoint.removeprefix(SOR_ENDPOINT) if endpoint.startswith(SOR_ENDPOINT) else ""


def _episode_of_care(encounter: dict[str, Any]) -> str:
    """The episode-of-care identifier MedCom messages carry on the Encounter."""
    for episode in encounter.get("episodeOfCare") or []:
        value = ((episode or {}).get("identifier") or {}).get("value")
        if value:
            return str(value)
    return ""


def _first(entries: list[dict[str, Any]], resource_type: str) -> dict[str, Any]:
    return next((r for r in entries if r.get("resourceType") == resource_type), {})
