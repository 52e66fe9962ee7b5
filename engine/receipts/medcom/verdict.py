"""What a receipt we received says about something we sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ReceiptVerdict:
    format: Literal["edifact", "xml", "fhir"]
    kind: str  # CTL01, CTL02, CTL03 (EDIFACT and OIOXML) or "acknowledgement" (FHIR)
    positive: bool
    # What we sent: our envelope id (UCI 0020, OriginalEnvelopeIdentifier) or, for FHIR,
    # our MessageHeader.id (response.identifier).
    refers_to: str
    letters: tuple[str, ...] = ()  # our letter ids (UCM 0062, OriginalLetterIdentifier)
    refusal_code: str | None = None  # SYN, VER, LOK, MID or NC when negative (EDIFACT/OIOXML)
    text: str = ""  # the refusal text, or the OperationOutcome's details/diagnostics
    response_code: str | None = None  # FHIR: ok, transient-error, fatal-error
    issue_codes: tuple[str, ...] = ()  # FHIR: OperationOutcome.issue.details.coding codes
    receipt_id: str = ""  # the receipt's own envelope id or Bundle.id
    sender: str = ""  # who sent the receipt (GLN; FHIR: MessageHeader.source.endpoint)

    @property
    def resend(self) -> bool:
        """transient-error: MedCom's rules say resend (refusal-codes.toml, MR5.R)."""
        return self.response_code == "transient-error"
