"""HL7 v2: a fast, lazy parser of our own for routing metadata.

This runs for every message received (thousands per second), so it does the least work that
answers the question asked: segments are split once, a segment's fields only when a path asks
for them, and repetitions/components only for the field asked. python-hl7 and hl7apy build a
full object tree and are far slower; they are for MLLP framing and strict validation only.

Paths follow the usual HL7 notation: ``MSH-9``, ``MSH-9.2``, ``PID-3.1``, ``PID-3[2].4``
(1-based repetition), ``PID-5.1.2`` (subcomponent), ``OBX[2]-5`` (second OBX segment).
"""

from __future__ import annotations

from engine.formats.hl7v2.batch import split_batch
from engine.formats.hl7v2.charset import decode
from engine.formats.hl7v2.errors import ERROR_TEXTS, HL7Error
from engine.formats.hl7v2.escaping import escape
from engine.formats.hl7v2.message import HL7Message, parse
from engine.formats.hl7v2.metadata import extract_metadata, normalise_cpr
from engine.formats.hl7v2.separators import DEFAULT_SEPARATORS, Separators
from engine.formats.hl7v2.values import parse_path

__all__ = [
    "DEFAULT_SEPARATORS",
    "ERROR_TEXTS",
    "HL7Error",
    "HL7Message",
    "Separators",
    "decode",
    "escape",
    "extract_metadata",
    "normalise_cpr",
    "parse",
    "parse_path",
    "split_batch",
]
