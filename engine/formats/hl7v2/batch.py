"""Batches: splitting concatenated messages or an HL7 batch/file into messages."""

from __future__ import annotations

from engine.formats.hl7v2.errors import HL7Error

_ENVELOPE = (b"FHS", b"BHS", b"BTS", b"FTS")


class _BatchReader:
    """Walks the segments of an HL7 file/batch, collecting each message's segments."""

    def __init__(self) -> None:
        self.messages: list[list[bytes]] = []
        self.current: list[bytes] | None = None
        self.open_file = 0  # segment number of the FHS not yet closed by FTS (0 = none)
        self.open_batch = 0

    def feed(self, segment: bytes, number: int) -> None:
        tag = segment[:3]
        if tag == b"MSH":
            self.current = [segment]
            self.messages.append(self.current)
        elif tag in _ENVELOPE:
            self.current = None
            self._envelope(tag.decode(), number)
        elif self.current is None:
            name = tag.decode("ascii", "replace")
            reason = f"segment {name!r} (segment {number}) is not in a message: no MSH before it"
            raise HL7Error("100", reason)
        else:
            self.current.append(segment)

    def _envelope(self, tag: str, number: int) -> None:
        if tag == "FHS":
            opened = self.open_file or self.open_batch
            if opened:
                reason = f"header at segment {opened} is not closed"
                raise HL7Error("100", f"nested FHS at segment {number}: {reason}")
            self.open_file = number
        elif tag == "BHS":
            if self.open_batch:
                reason = f"the batch from segment {self.open_batch} has no BTS"
                raise HL7Error("100", f"nested BHS at segment {number}: {reason}")
            self.open_batch = number
        elif tag == "BTS":
            self.open_batch = 0
        else:  # FTS closes the file and any batch left open in it
            self.open_file = self.open_batch = 0


def split_batch(raw: bytes) -> list[bytes]:
    """Split a message, concatenated messages or an HL7 batch/file into messages.

    Works on the bytes (every HL7 character set we read keeps \\r and \\n as ASCII), so each
    message keeps its own encoding. Envelope segments (FHS/BHS/BTS/FTS) and MLLP framing are
    dropped; each message's segments end in \\r. An envelope without messages gives [].
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    reader = _BatchReader()
    number = 0
    for line in raw.replace(b"\r\n", b"\r").replace(b"\n", b"\r").split(b"\r"):
        segment = line.lstrip(b" \t\x0b\x0c\x1c").rstrip(b"\x0b\x1c")
        if segment.strip():
            number += 1
            reader.feed(segment, number)
    if not number:
        raise HL7Error("100", "empty input: no segments")
    return [b"\r".join(segments) + b"\r" for segments in reader.messages]
