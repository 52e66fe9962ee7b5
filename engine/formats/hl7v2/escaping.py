"""Escaping: writing a value as one HL7 leaf value (the inverse of unescaping)."""

from __future__ import annotations

from engine.formats.hl7v2.message import HL7Message
from engine.formats.hl7v2.separators import Separators, _read_encoding


def escape(value: str, msg_or_encoding_chars: HL7Message | Separators | str) -> str:
    """Escape ``value`` for use as one HL7 leaf value (used by the ACK builder).

    The second argument is a message, its :class:`Separators`, or MSH-2 as a string
    ("^~\\\\&", field separator "|"), optionally preceded by MSH-1 ("|^~\\\\&").
    Line breaks become ``\\X0D\\``/``\\X0A\\`` so they cannot end the segment.
    """
    seps = _as_separators(msg_or_encoding_chars)
    es = seps.escape
    table: dict[int, str] = {}
    for char, code in ((seps.field, "F"), (seps.component, "S"), (seps.subcomponent, "T")):
        if char:
            table[ord(char)] = f"{es}{code}{es}" if es else " "
    if seps.repetition:
        table[ord(seps.repetition)] = f"{es}R{es}" if es else " "
    table[ord("\r")] = f"{es}X0D{es}" if es else " "
    table[ord("\n")] = f"{es}X0A{es}" if es else " "
    if es:
        table[ord(es)] = f"{es}E{es}"
    return value.translate(table)


def _as_separators(source: HL7Message | Separators | str) -> Separators:
    if isinstance(source, HL7Message):
        return source.separators
    if isinstance(source, Separators):
        return source
    if source[:1] == "|":
        return _read_encoding("|", source[1:])
    return _read_encoding("|", source)
