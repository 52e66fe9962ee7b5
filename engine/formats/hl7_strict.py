"""Strict HL7 v2 validation with hl7apy: structure, data types, cardinality.

About 10-30 ms a message, so it runs on request only (`kanal inspect --strict`), never on
the hot path, where our own lazy parser reads just the routing metadata.
"""

from __future__ import annotations

import re

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

from engine.formats.hl7v2 import HL7Message


def validate_strict(message: HL7Message) -> list[str]:
    """Problems hl7apy finds against the message's declared version; empty if none."""
    text = "\r".join(s for s in re.split(r"\r\n|\r|\n", message.text) if s)
    try:
        parsed = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        parsed.validate()
    except (HL7apyException, ValueError) as exc:
        return [f"{type(exc).__name__}: {exc}"]
    return []
