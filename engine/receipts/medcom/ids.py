"""Receipt identifiers derived from what was received, so a duplicate gets the identical receipt.

MedCom's reliable messaging: "A Receiving Ecosystem MUST return the same MedCom acknowledgement
content on a received MedCom Message as it returned on the first received copy"
(docs/fhir_communication_043_Reliable_Messaging-FHIR.md). Random ids would break that; a
hash of the received identifiers does not, and needs no store.
"""

from __future__ import annotations

import hashlib
import uuid

# OIOXML Envelope/Identifier and Letter/Identifier are String_1_14
# (xsd/oioxml/2005-08-07/EMessage.xsd, PositiveReceipt.xsd); EDIFACT UNB 0020 and UNH 0062
# are an..14. So every derived id is 14 characters: a letter and 13 hex digits.
ID_LENGTH = 14
_NAMESPACE = uuid.UUID("6f1c2a52-5b0e-4d57-9a3c-1e7d3f0b8a44")  # ours, fixed forever


def derived_id(prefix: str, *parts: str) -> str:
    """`prefix` (one letter: K for an envelope, B for a letter) + 13 hex digits of the parts."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest().upper()
    return (prefix + digest)[:ID_LENGTH]


def derived_uuid(*parts: str) -> str:
    """A name-based UUID (version 5) for a FHIR resource id."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))
