"""What mappings/adt-to-fhir-patient does, written directly in Python."""

from __future__ import annotations

import json
import uuid

from engine.formats.hl7v2 import HL7Message
from engine.mapping.filters import hl7_to_fhir_date
from engine.pipeline.view import MessageView

FIXTURE = "fixtures/hl7v2/adt_a01_admit.hl7"
SEX = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}


def by_hand(msg: MessageView) -> bytes:
    hl7: HL7Message = msg.parsed
    sex = hl7.get("PID-8")
    if sex and sex not in SEX:
        raise ValueError(f"code {sex!r} is not mapped")
    patient: dict[str, object] = {"resourceType": "Patient"}
    if msg.cpr:
        patient["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"kanal:patient|{msg.cpr}"))
        patient["identifier"] = [{"system": "urn:oid:1.2.208.176.1.2", "value": msg.cpr}]
    name: dict[str, object] = {"family": hl7.get("PID-5.1")}
    if hl7.get("PID-5.2"):
        name["given"] = [hl7.get("PID-5.2")]
    patient["name"] = [name]
    if sex:
        patient["gender"] = SEX[sex]
    if hl7.get("PID-7"):
        patient["birthDate"] = hl7_to_fhir_date(hl7.get("PID-7"))
    address = {
        k: v
        for k, v in (
            ("line", [hl7.get("PID-11.1")]),
            ("city", hl7.get("PID-11.3")),
            ("postalCode", hl7.get("PID-11.5")),
            ("country", hl7.get("PID-11.6")),
        )
        if v and v != [""]
    }
    if address:
        patient["address"] = [address]
    return json.dumps(patient, ensure_ascii=False, separators=(",", ":")).encode()
