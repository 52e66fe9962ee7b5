"""Routing metadata of a MedCom EDIFACT interchange (one message, as MedCom sends them)."""

from __future__ import annotations

from engine.formats.edifact.interchange import EdifactInterchange
from engine.formats.metadata import Metadata


def extract_metadata(interchange: EdifactInterchange) -> Metadata:
    unb = interchange.first("UNB")
    unh = interchange.first("UNH")
    value = interchange.value
    patient = interchange.first("PNA", "PAT")
    cpr = value(patient, 1) if patient is not None and value(patient, 1, 3) == "CPR" else ""
    return Metadata(
        format="edifact",
        type=value(unh, 2),  # MedCom's statistical code (BrvStat): DIS01, REF01 …
        control_id=value(unh, 0),  # the letter (message) reference
        sender=value(unb, 1),
        receiver=value(unb, 2),
        version=value(unh, 1, 4),  # MedCom's version code: D0133L …
        cpr=cpr or None,
        patient_ids=[cpr] if cpr else [],
        charset=interchange.codec,
        envelope_id=value(unb, 4) or None,
        receipt_requested=value(unb, 8) == "1",
    )
