"""The one error an interchange can raise, with the MedCom refusal code for its receipt."""

from __future__ import annotations

# MedCom's refusal codes (CTL02 FTX, XCTL02 RefuseCode)
REFUSAL_CODES = {
    "SYN": "syntaksfejl",  # the interchange cannot be read as EDIFACT
    "VER": "problem_med_version",  # a message type or version the receiver does not take
    "LOK": "ukendt_lokationsnummer",  # the receiver's location number is not known here
    "MID": "problem_med_modtagerID",  # a problem with the receiver's identification
    "NC": "ikke_specificeret",  # anything else
}


class EdifactError(ValueError):
    """`code` is a MedCom refusal code (SYN, VER, LOK, MID, NC); `reason` names the problem
    (segment and position, never patient data)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
