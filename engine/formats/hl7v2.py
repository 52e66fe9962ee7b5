"""HL7 v2: a fast, lazy parser of our own for routing metadata.

This runs for every message received (thousands per second), so it does the least work that
answers the question asked: segments are split once, a segment's fields only when a path asks
for them, and repetitions/components only for the field asked. python-hl7 and hl7apy build a
full object tree and are far slower; they are for MLLP framing and strict validation only.

Paths follow the usual HL7 notation: ``MSH-9``, ``MSH-9.2``, ``PID-3.1``, ``PID-3[2].4``
(1-based repetition), ``PID-5.1.2`` (subcomponent), ``OBX[2]-5`` (second OBX segment).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from engine.formats.metadata import Metadata

# HL7 table 0357 (message error condition codes) used by this module and the ACK builder.
ERROR_TEXTS = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}


class HL7Error(ValueError):
    """A message that cannot be read; ``code`` is from HL7 table 0357.

    ``reason`` names the problem for an operator and never contains patient data.
    ``location`` is the ERR-2 error location (``segment^sequence^field``) when known.
    """

    def __init__(self, code: str, reason: str = "", location: str = "") -> None:
        self.code = code
        self.reason = reason or ERROR_TEXTS.get(code, "HL7 error")
        self.location = location
        super().__init__(f"HL7 {code}: {self.reason}")


class Separators(NamedTuple):
    """MSH-1 and MSH-2 of a message; a character the sender did not declare is ""."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @property
    def encoding_characters(self) -> str:
        """MSH-2 as this message writes it."""
        return self.component + self.repetition + self.escape + self.subcomponent


DEFAULT_SEPARATORS = Separators()
_STANDARD_ENCODING = "^~\\&"

# MSH-18 (HL7 table 0211, plus spellings seen in the wild) -> Python codec.
_CHARSETS = {
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "US-ASCII": "ascii",
    "UNICODE": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
    "ISO IR192": "utf-8",
    "8859/1": "latin-1",
    "ISO IR100": "latin-1",
    "ISO-8859-1": "latin-1",
    "LATIN-1": "latin-1",
    "8859/15": "iso8859-15",
    "ISO-8859-15": "iso8859-15",
    "WINDOWS-1252": "cp1252",
    "CP1252": "cp1252",
    **{f"8859/{n}": f"iso8859-{n}" for n in range(2, 10)},
}


# --- character set ---------------------------------------------------------------------------

_CHARSET_NAME = re.compile(rb"[A-Za-z0-9 /._-]*")


def decode(raw: bytes) -> tuple[str, str]:
    """Decode a message by its MSH-18 character set; returns (text, codec). Never fails.

    Without a (known) MSH-18 the bytes are tried as UTF-8; anything that does not decode as
    declared or as UTF-8 is read as Latin-1, which accepts every byte.
    """
    codec = _CHARSETS.get(_declared_charset(raw).upper()) or "utf-8"
    try:
        return raw.decode(codec), codec
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def _declared_charset(raw: bytes) -> str:
    """MSH-18 (its first repetition) read straight from the bytes of the MSH line."""
    start = 0 if raw[:3] == b"MSH" else raw.find(b"MSH")
    if start < 0:
        return ""
    end = raw.find(b"\r", start)
    if end < 0:
        end = len(raw)
    newline = raw.find(b"\n", start, end)
    if newline >= 0:
        end = newline
    fs = raw[start + 3 : start + 4]
    if not fs or raw.count(fs, start, end) < 17:  # MSH-18 follows the 17th separator
        return ""
    value = raw[start:end].split(fs, 18)[17]
    match = _CHARSET_NAME.match(value)  # stops at "~" (repetition) or any other separator
    return match.group().strip().decode("ascii") if match else ""


# --- the message -----------------------------------------------------------------------------


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

    def segment_names(self) -> list[str]:
        """Segment ids in message order, e.g. ["MSH", "EVN", "PID", "PV1"]."""
        return list(self._segment_names())

    def get(self, path: str) -> str:
        """The value at an HL7 path ("PID-3[2].4"), unescaped; "" when absent.

        A leaf value is returned with escape sequences decoded. An element that still holds
        separators (a whole field with components, say) is returned as encoded HL7 text, so
        that its structure stays unambiguous.
        """
        return self.value(*_parse_path(path))

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
        if field >= len(fields):
            return ""
        value = fields[field]
        if value and (rep or comp):
            value = _narrow(value, self.separators, rep, comp, sub)
        return self._leaf(value) if value else ""

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


def _read_msh(first: str) -> Separators:
    if first[:8] == "MSH|^~\\&" and first[8:9] in ("|", ""):
        return DEFAULT_SEPARATORS  # nearly every message: skip the checks below
    if not first.startswith("MSH"):
        tag = first[:3]
        if tag in ("FHS", "BHS"):
            raise HL7Error("100", f"input is an HL7 batch ({tag} header): use split_batch first")
        raise HL7Error("100", f"no MSH segment: message starts with {_preview(first)}")
    fs = first[3:4]
    if not fs:
        raise HL7Error("100", "MSH segment too short: no field separator (MSH-1)")
    if fs.isalnum() or fs.isspace():
        raise HL7Error("100", f"MSH-1 field separator {fs!r} is not a valid separator")
    end = first.find(fs, 4)
    return _read_encoding(fs, first[4:] if end < 0 else first[4:end])


def _read_encoding(fs: str, enc: str) -> Separators:
    if not enc:
        raise HL7Error("100", "MSH-2 encoding characters are missing", "MSH^1^2")
    enc = enc[:4]  # a 5th (v2.7 truncation character) plays no part in reading
    if len(set(enc)) < len(enc) or fs in enc:
        raise HL7Error("100", f"MSH-2 encoding characters {enc!r} repeat a character", "MSH^1^2")
    if len(enc) < 4 and _is_subsequence(enc, _STANDARD_ENCODING):
        # A sender that drops one (often "^\&", no repetition) keeps the others' meaning.
        cs, rs, es, ss = (c if c in enc else "" for c in _STANDARD_ENCODING)
        return Separators(fs, cs, rs, es, ss)
    cs, rs, es, ss = (enc[i : i + 1] for i in range(4))
    return Separators(fs, cs, rs, es, ss)


def _is_subsequence(part: str, whole: str) -> bool:
    it = iter(whole)
    return all(c in it for c in part)


def _preview(segment: str) -> str:
    # Only a segment id and its separator: anything further may be patient data (a CPR...).
    if _SEGMENT_ID.match(segment):
        return repr(segment[:4] + "...") if len(segment) > 4 else repr(segment)
    return f"{segment[:1]!r}, not a segment id"


_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}(?![A-Za-z0-9])")


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


# --- paths and values ------------------------------------------------------------------------

_PATH = re.compile(r"([A-Z0-9]{3})(?:\[(\d+)\])?-(\d+)(?:\[(\d+)\])?(?:\.(\d+))?(?:\.(\d+))?")
_PATHS: dict[str, tuple[str, int, int, int, int, int]] = {}


def _parse_path(path: str) -> tuple[str, int, int, int, int, int]:
    """("PID", seg_rep, field, rep, comp, sub); parsed paths are cached (a channel uses few)."""
    parsed = _PATHS.get(path)
    if parsed is None:
        m = _PATH.fullmatch(path.strip())
        if m is None:
            raise ValueError(f"not an HL7 path: {path!r} (expected e.g. 'PID-3[2].1')")
        seg, *numbers = m.groups()
        if any(n is not None and int(n) == 0 for n in numbers):
            raise ValueError(f"HL7 paths count from 1: {path!r}")
        seg_rep, field, rep, comp, sub = (int(n or 0) for n in numbers)
        parsed = (seg, seg_rep or 1, field, rep, comp, sub)
        if len(_PATHS) < 10_000:  # bounded: paths may come from user input
            _PATHS[path] = parsed
    return parsed


def _narrow(value: str, seps: Separators, rep: int, comp: int, sub: int) -> str:
    """One repetition/component/subcomponent of a raw field (0 = keep all of that level)."""
    _, cs, rs, _, ss = seps
    if rs and rs in value:
        value = _nth(value, rs, rep or 1)  # a component path means the first repetition
    elif rep > 1:
        return ""
    if comp:
        if cs in value:
            value = _nth(value, cs, comp)
        elif comp > 1:
            return ""
        if sub:
            if ss and ss in value:
                value = _nth(value, ss, sub)
            elif sub > 1:
                return ""
    return value


def _nth(value: str, sep: str, n: int) -> str:
    parts = value.split(sep, n)
    return parts[n - 1] if n <= len(parts) else ""


def _unescape(value: str, seps: Separators, codec: str) -> str:
    es = seps.escape
    if not es or es not in value:
        return value
    out: list[str] = []
    i = 0
    while True:
        start = value.find(es, i)
        end = value.find(es, start + 1) if start >= 0 else -1
        if end < 0:
            out.append(value[i:])
            return "".join(out)
        out.append(value[i:start])
        decoded = _escape_sequence(value[start + 1 : end], seps, codec)
        out.append(value[start : end + 1] if decoded is None else decoded)
        i = end + 1


def _escape_sequence(code: str, seps: Separators, codec: str) -> str | None:
    """The text for one escape sequence, or None to leave it as it is."""
    simple = {"F": seps.field, "S": seps.component, "T": seps.subcomponent}
    simple.update(R=seps.repetition, E=seps.escape)
    if code in simple:
        return simple[code] or None
    if code[:1] == "X" and len(code) > 1:
        try:
            data = bytes.fromhex(code[1:])
        except ValueError:
            return None
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            return data.decode("latin-1")
    return None


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


# --- batches ---------------------------------------------------------------------------------

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


# --- metadata --------------------------------------------------------------------------------


def extract_metadata(msg: HL7Message) -> Metadata:
    """Routing metadata of a parsed message (see :class:`Metadata`)."""
    msh = msg.fields(0)
    if len(msh) < 16:
        msh = msh + [""] * (16 - len(msh))
    seps, codec = msg.separators, msg.codec
    message_type = _first(msh[9], seps, codec, 0).split(seps.component)  # MSH-9 first repetition
    code = msg.unescape(message_type[0])
    trigger = msg.unescape(message_type[1]) if len(message_type) > 1 else ""
    cpr, patient_ids = _patient_ids(msg)
    # Positional: a slots dataclass takes keywords at less than half the speed.
    return Metadata(
        "hl7v2",  # format
        f"{code}^{trigger}" if trigger else code,  # type
        _first(msh[10], seps, codec, 0),  # control_id
        _party(_first(msh[3], seps, codec), _first(msh[4], seps, codec)),  # sender
        _party(_first(msh[5], seps, codec), _first(msh[6], seps, codec)),  # receiver
        _first(msh[12], seps, codec),  # version
        cpr,
        patient_ids,
        codec,  # charset
        None,  # envelope_id
        msh[15].strip().upper() != "NE",  # receipt_requested
    )


def _first(value: str, seps: Separators, codec: str, n: int = 1) -> str:
    """Component ``n`` of the first repetition of a raw value, unescaped.

    ``n`` = 0 keeps the whole first repetition. The metadata path calls this for every
    message, hence the fast path first.
    """
    _, cs, rs, es, ss = seps
    if rs and rs in value:
        value = value.split(rs, 1)[0]
    if n and cs in value:
        value = _nth(value, cs, n)
    elif n > 1:
        return ""
    if not es or es not in value:
        return value
    if cs in value or (ss and ss in value):
        return value  # still structured: keep it encoded, as HL7Message.get does
    return _unescape(value, seps, codec)


def _party(application: str, facility: str) -> str:
    # "APP^FAC"; an empty part is kept ("APP^"), but nothing at all stays "".
    return f"{application}^{facility}" if application or facility else ""


def _patient_ids(msg: HL7Message) -> tuple[str | None, list[str]]:
    """(CPR or None, every PID-3 CX.1) from the first PID segment."""
    index = msg._segment_index("PID", 1)
    fields = msg.fields(index) if index >= 0 else ()
    pid3 = fields[3] if len(fields) > 3 else ""
    if not pid3:
        return None, []
    _, cs, rs, es, _ = msg.separators
    cpr: str | None = None
    ids: list[str] = []
    for rep in pid3.split(rs) if rs else (pid3,):
        cx = rep.split(cs)
        number = cx[0]
        if es and es in number:
            number = msg.unescape(number)
        if number:
            ids.append(number)
            if cpr is None and len(cx) > 3 and _is_cpr_identifier(cx):
                cpr = normalise_cpr(number)
    return cpr, ids


def _is_cpr_identifier(cx: list[str]) -> bool:
    authority = cx[3].upper() if len(cx) > 3 else ""
    id_type = cx[4].upper() if len(cx) > 4 else ""
    return "CPR" in authority or "CPR" in id_type or id_type in ("NNDN", "NNDK")


def normalise_cpr(value: str) -> str | None:
    """A CPR as 10 digits ("010145-1234" -> "0101451234"), or None if it is not one."""
    digits = value.strip().replace("-", "")
    return digits if len(digits) == 10 and digits.isascii() and digits.isdigit() else None
