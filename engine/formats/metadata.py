"""Format-independent routing metadata, extracted once when a message is received."""

from dataclasses import dataclass, field


@dataclass(slots=True)
class Metadata:
    """Routing metadata extracted once at receipt, the same shape for every format."""

    format: str  # "hl7v2"
    type: str = ""  # "ADT^A01" (MSH-9.1^MSH-9.2; trigger omitted if absent)
    control_id: str = ""  # MSH-10
    sender: str = ""  # "EPJ^RHH" = MSH-3.1 ^ MSH-4.1 (app^facility), "" parts kept: "APP^"
    receiver: str = ""  # MSH-5.1 ^ MSH-6.1
    version: str = ""  # MSH-12.1
    cpr: str | None = None  # Danish CPR, 10 digits, no hyphen
    patient_ids: list[str] = field(default_factory=list)  # all PID-3 CX.1 values
    charset: str = ""  # python codec name actually used to decode, e.g. "utf-8", "latin-1"
    envelope_id: str | None = None  # MedCom envelope id (UNB-5, Envelope/Identifier, VANS)
    receipt_requested: bool = True  # MSH-15 accept-ack: False when "NE"; otherwise True
    # MedCom: the SOR codes of sender and receiver where the message names them, and
    # the episode-of-care identifier (FHIR) that ties messages about one course together.
    sender_sor: str = ""
    receiver_sor: str = ""
    episode_of_care_id: str = ""

    def as_dict(self) -> dict:  # type: ignore[type-arg]
        """Plain dict of all fields (the list is copied, so the caller may mutate it freely)."""
        # Written out rather than dataclasses.asdict(): that deep-copies recursively and is
        # several times slower, and this runs for every message stored.
        return {
            "format": self.format,
            "type": self.type,
            "control_id": self.control_id,
            "sender": self.sender,
            "receiver": self.receiver,
            "version": self.version,
            "cpr": self.cpr,
            "patient_ids": list(self.patient_ids),
            "charset": self.charset,
            "envelope_id": self.envelope_id,
            "receipt_requested": self.receipt_requested,
            "sender_sor": self.sender_sor,
            "receiver_sor": self.receiver_sor,
            "episode_of_care_id": self.episode_of_care_id,
        }
