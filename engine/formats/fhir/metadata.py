"""Routing metadata of a FHIR message Bundle: MessageHeader, Patient, sender and receiver."""

from __future__ import annotations

from typing import Any

from engine.formats.metadata import Metadata

CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"


def extract_metadata(resource: dict[str, Any], charset: str = "utf-8") -> Metadata:
    entries = [e.get("resource", {}) for e in resource.get("entry", []) if isinstance(e, dict)]
    header = _first(entries, "MessageHeader")
    patient = _first(entries, "Patient")
    event = (header.get("eventCoding") or {}).get("code", "")
    destination = (header.get("destination") or [{}])[0]
    cprs = [
        i.get("value", "")
        for i in patient.get("identifier", [])
        if i.get("system") == CPR_SYSTEM and i.get("value")
    ]
    return Metadata(
        format="fhir",
        type=event or resource.get("resourceType", ""),
        control_id=header.get("id", "") or resource.get("id", ""),
        sender=(header.get("source") or {}).get("endpoint", ""),
        receiver=destination.get("endpoint", ""),
        version="R4",
        cpr=cprs[0] if cprs else None,
        patient_ids=cprs,
        charset=charset,
        envelope_id=resource.get("id"),
        receipt_requested=bool(header) and event != "acknowledgement-message",
    )


def _first(entries: list[dict[str, Any]], resource_type: str) -> dict[str, Any]:
    return next((r for r in entries if r.get("resourceType") == resource_type), {})
