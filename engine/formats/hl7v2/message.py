"""The message: :class:`HL7Message`, split lazily, and :func:`parse`."""

from __future__ import annotations

from engine.formats.hl7v2.charset import decode
from engine.formats.hl7v2.errors import HL7Error
from engine.formats.hl7v2.separators import Separators, _read_msh
from engine.formats.hl7v2.values import _narrow, _unescape, parse_path


class HL7Message:
    """One HL7 v2 message, split lazily. Build it with :func:`parse`."""

    __slots__ = ("_fields", "_names", "_segments", "codec", "raw", "separators", "text")

    def __init__(self, raw: bytes, text: str, codec: str, *, strict: bool = True) -> None:
        self.raw = raw
        self.text = text
        self.codec = codec
        self._segments = segments = _split_segments(text)
        self.separators = seps = _read_msh(segments[0])
        msh = segments[0].split(seps.field)
        msh[0:1] = ["MSH", seps.field]  # MSH-1 is the field separator: msh[n] is MSH-n
        self._fields: dict[int, list[str]] = {0: msh}
        self._names: list[str] | None = None
        if strict:
            _check_single(text, seps.field)
            _check_required(msh, seps)

    def __repr__(self) -> str:  # no field values: they may be patient data
        return f"<HL7Message {len(self._segments)} segments, {self.codec}>"

    def segments(self) -> list[str]:
        """The segments' text, in order, as received (line endings removed)."""
        return self._segments

    def segment_names(self) -> list[str]:
        """Segment ids in message order, e.g. ["MSH", "EVN", "PID", "PV1"]."""
        return list(self._segment_names())

    def get(self, path: str) -> str:
        """The value at an HL7 path ("PID-3[2].4"), unescaped; "" when absent.

        A leaf value is returned with escape sequences decoded. An element that still holds
        separators (a whole field with components, say) is returned as encoded HL7 text, so
        that its structure stays unambiguous.
        """
        return self.value(*parse_path(path))

    def value(self, segment: str, seg_rep: int, field: int, rep: int, comp: int, sub: int) -> str:
        """:meth:`get` with the path already split; 0 for rep/comp/sub means "all of it"."""
        if seg_rep == 1 and segment == "MSH":
            fields = self._fields[0]
            if field <= 2:  # MSH-1/MSH-2 are the separators themselves: never split
                return fields[field] if field < len(fields) else ""
        else:
            index = self._segment_index(segment, seg_rep)
            if index < 0:
                return ""
            fields = self.fields(index)
        return self._field_value(fields, field, rep, comp, sub)

    def value_at(self, index: int, field: int, rep: int, comp: int, sub: int) -> str:
        """:meth:`value` in the segment at ``index`` (see :meth:`segment_indexes`)."""
        return self._field_value(self.fields(index), field, rep, comp, sub)

    def segment_indexes(self, segment: str) -> list[int]:
        """Positions of every ``segment`` in the message, in order."""
        return [i for i, name in enumerate(self._segment_names()) if name == segment]

    def narrow(self, value: str, rep: int, comp: int, sub: int) -> str:
        """Part of an encoded field value, unescaped like :meth:`value`."""
        if value and (rep or comp):
            value = _narrow(value, self.separators, rep, comp, sub)
        return self._leaf(value) if value else ""

    def _field_value(self, fields: list[str], field: int, rep: int, comp: int, sub: int) -> str:
        if field >= len(fields):
            return ""
        return self.narrow(fields[field], rep, comp, sub)

    def fields(self, index: int) -> list[str]:
        """Fields of the segment at ``index``, numbered as in HL7 (``[0]`` is the name)."""
        cached = self._fields.get(index)
        if cached is None:
            fs = self.separators.field
            cached = self._segments[index].split(fs)
            if cached[0] == "MSH":
                cached.insert(1, fs)
            self._fields[index] = cached
        return cached

    def first_component(self, value: str, n: int = 1) -> str:
        """Component ``n`` of the first repetition of a raw field value, unescaped."""
        return self._leaf(_narrow(value, self.separators, 1, n, 0)) if value else ""

    def unescape(self, value: str) -> str:
        """Decode HL7 escape sequences in ``value`` with this message's separators."""
        return _unescape(value, self.separators, self.codec)

    def _leaf(self, value: str) -> str:
        seps = self.separators
        es = seps.escape
        if not es or es not in value:  # the common case: nothing to decode
            return value
        _, cs, rs, _, ss = seps
        if cs in value or (rs and rs in value) or (ss and ss in value):
            return value  # still structured: keep it encoded
        return _unescape(value, seps, self.codec)

    def _segment_names(self) -> list[str]:
        if self._names is None:
            fs = self.separators.field
            self._names = [s.partition(fs)[0] for s in self._segments]
        return self._names

    def _segment_index(self, segment: str, seg_rep: int) -> int:
        names = self._names
        if names is None:
            if seg_rep == 1:  # one look-up (the metadata's PID): a scan beats naming all
                return self._first_segment(segment)
            names = self._segment_names()
        index = -1
        for _ in range(seg_rep):
            try:
                index = names.index(segment, index + 1)
            except ValueError:
                return -1
        return index

    def _first_segment(self, segment: str) -> int:
        prefix = segment + self.separators.field
        for i, text in enumerate(self._segments):
            if text.startswith(prefix) or text == segment:
                return i
        return -1


def parse(raw: bytes) -> HL7Message:
    """Parse one message (not a batch: see :func:`split_batch`). Raises :class:`HL7Error`."""
    text, codec = decode(raw)
    return HL7Message(raw, text, codec)


def _split_segments(text: str) -> list[str]:
    if "\n" in text:  # any line ending separates segments, not just the standard \r
        text = text.replace("\r\n", "\r").replace("\n", "\r")
    # Surrounding whitespace, a BOM and MLLP framing (\x0b, \x1c) are never data.
    text = text.strip()
    if text[:1] == "\ufeff":
        text = text[1:].lstrip()
    segments = text.split("\r")
    # Segment ids start at "0" or above; "" and whitespace sort below it (one C-level pass).
    if min(segments) < "0":
        segments = [s for s in segments if s and not s.isspace()]
    if not segments or not text:
        raise HL7Error("100", "empty message: no segments")
    return segments


def _check_single(text: str, fs: str) -> None:
    # A second MSH means concatenated messages: acknowledging them as one would lose data.
    marker = "MSH" + fs
    if text.count(marker) < 2:
        return
    i = text.find(marker, text.find(marker) + 4)
    while i >= 0:
        if text[i - 1] in "\r\n\x0b\x1c":
            raise HL7Error("100", "input holds more than one MSH segment: use split_batch first")
        i = text.find(marker, i + 4)


def _check_required(msh: list[str], seps: Separators) -> None:
    n = len(msh)
    message_code = msh[9].strip() if n > 9 else ""
    if not message_code or message_code[0] in (seps.component, seps.repetition):
        raise HL7Error("101", "MSH-9 message type is missing", "MSH^1^9")
    if n <= 10 or not msh[10].strip():
        raise HL7Error("101", "MSH-10 message control id is missing", "MSH^1^10")
    if n <= 12 or not msh[12].strip():
        raise HL7Error("101", "MSH-12 version id is missing", "MSH^1^12")
