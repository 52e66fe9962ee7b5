"""What mappings/hl7-to-epj does, written directly in Python: MSH-3/5/6 replaced."""

from __future__ import annotations

from engine.pipeline.view import MessageView

FIXTURE = "fixtures/hl7v2/oru_r01_lab.hl7"


def by_hand(msg: MessageView) -> bytes:
    segments = list(msg.parsed.segments())  # already split by the parser
    fields = segments[0].split("|")
    fields[2], fields[4], fields[5] = "KANAL", "EPJ", "RHH"
    segments[0] = "|".join(fields)
    return ("\r".join(segments) + "\r").encode(msg.charset or "utf-8")
