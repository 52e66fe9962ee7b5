"""HL7 errors: :class:`HL7Error` and the table 0357 texts it and the ACK builder use."""

from __future__ import annotations

# HL7 table 0357 (message error condition codes) used by this module and the ACK builder.
ERROR_TEXTS = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}


class HL7Error(ValueError):
    """A message that cannot be read; ``code`` is from HL7 table 0357.

    ``reason`` names the problem for an operator and never contains patient data.
    ``location`` is the ERR-2 error location (``segment^sequence^field``) when known.
    """

    def __init__(self, code: str, reason: str = "", location: str = "") -> None:
        self.code = code
        self.reason = reason or ERROR_TEXTS.get(code, "HL7 error")
        self.location = location
        super().__init__(f"HL7 {code}: {self.reason}")
