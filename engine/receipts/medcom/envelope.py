"""What a receipt needs from a received EDIFACT interchange: UNB and the UNH segments.

Read from a parsed interchange or, leniently, from raw bytes that did not parse: a negative
receipt is owed precisely when the input is broken, so this never raises: the bare segment
split (engine.formats.edifact.tokens), not the parser, which refuses the whole interchange
at the first problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.formats.edifact import EdifactInterchange
from engine.formats.edifact.tokens import split_segments

DEFAULT_UNA = ":+.? '"  # component, element, decimal mark, release, reserved, terminator


@dataclass(frozen=True)
class Party:
    id: str = ""
    qualifier: str = ""  # 14 = EAN/GLN in every MedCom UNB (pairs/*.edi)


@dataclass(frozen=True)
class Letter:
    reference: str  # UNH 0062, the letter number (BrevNr)
    identifier: tuple[str, ...]  # UNH S009: MEDREF, D, 93A, UN, H0130R
    statistical_code: str = ""  # UNH element 3, MedCom's BrvStat (REF01, CTL02 …)

    @property
    def message_type(self) -> str:
        return self.identifier[0] if self.identifier else ""


@dataclass(frozen=True)
class Envelope:
    sender: Party = field(default_factory=Party)  # UNB S002
    recipient: Party = field(default_factory=Party)  # UNB S003
    reference: str = ""  # UNB 0020, the envelope number (KuvertNr)
    acknowledgement_request: str = ""  # UNB 0031: "1" = pluspositivkvitt
    letters: tuple[Letter, ...] = ()

    @property
    def readable(self) -> bool:
        """UNB gave sender, recipient and reference: the receipt can be fully addressed."""
        return bool(self.sender.id and self.recipient.id and self.reference)


Elements = list[list[str]]


def from_interchange(interchange: EdifactInterchange) -> Envelope:
    segments = [(s.tag, _pydifact_elements(s.elements)) for s in interchange.segments]
    return _envelope(segments)


def from_bytes(raw: bytes) -> Envelope:
    """Best effort over anything: Latin-1 decoding cannot fail, unknown segments are skipped."""
    text = raw.decode("iso-8859-1")
    stripped = text.lstrip()
    una = stripped[3:9] if stripped.startswith("UNA") and len(stripped) >= 9 else DEFAULT_UNA
    if stripped.startswith("UNA"):
        text = stripped[9:]
    return _envelope(list(_tokenize(text, una)))


def _envelope(segments: list[tuple[str, Elements]]) -> Envelope:
    unb = next((elements for tag, elements in segments if tag == "UNB"), [])
    letters = tuple(
        Letter(_get(e, 0), tuple(_all(e, 1)), _get(e, 2)) for tag, e in segments if tag == "UNH"
    )
    return Envelope(
        sender=Party(_get(unb, 1), _get(unb, 1, 1)),
        recipient=Party(_get(unb, 2), _get(unb, 2, 1)),
        reference=_get(unb, 4),
        acknowledgement_request=_get(unb, 8),
        letters=letters,
    )


def _tokenize(text: str, una: str) -> list[tuple[str, Elements]]:
    text = text.replace("\r", "").replace("\n", "")  # layout, never data
    return [(tag, _pydifact_elements(elements)) for tag, elements in split_segments(text, una)]


def _pydifact_elements(elements: list[Any]) -> Elements:
    return [[str(c) for c in e] if isinstance(e, list) else [str(e)] for e in elements]


def _get(elements: Elements, element: int, component: int = 0) -> str:
    values = _all(elements, element)
    return values[component].strip() if component < len(values) else ""


def _all(elements: Elements, element: int) -> list[str]:
    return elements[element] if element < len(elements) else []
