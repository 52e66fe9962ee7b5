"""Fault injection shared by the partner simulators.

Each simulator asks `FaultState.decide(text)` before answering and turns the decision into
its own protocol's words (HL7 AR/AE, a FHIR Acknowledgement, a SOAP fault, a CTL02).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

Decision = Literal["ok", "down", "transient", "fatal"]


@dataclass
class Faults:
    fail_first: int = 0  # answer "try again" (transient) to this many messages first
    reject_marker: str = ""  # reject (fatal) messages containing this text
    delay: float = 0.0  # seconds before each answer
    down_for: float = 0.0  # seconds, from when these faults are set, of being out of service
    reject_all: bool = False  # reject (fatal) every message


class FaultState:
    """Counts and clocks for one simulator; fresh whenever its `Faults` object is replaced,
    so a test that sets new faults starts from zero."""

    def __init__(self) -> None:
        self._faults: Faults | None = None
        self._failed = 0
        self._down_until = 0.0

    def arm(self, faults: Faults) -> None:
        """Start counting and the down clock for `faults` (called at start and on change)."""
        self._faults, self._failed = faults, 0
        self._down_until = time.monotonic() + faults.down_for

    def decide(self, faults: Faults, text: str) -> Decision:
        if faults is not self._faults:
            self.arm(faults)
        if time.monotonic() < self._down_until:
            return "down"
        if self._failed < faults.fail_first:
            self._failed += 1
            return "transient"
        if faults.reject_all or (faults.reject_marker and faults.reject_marker in text):
            return "fatal"
        return "ok"
