"""The one error unwrapping or building a network envelope raises."""

from __future__ import annotations


class EnvelopeError(ValueError):
    """`reason` names the problem (element and what is wrong, never patient data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
