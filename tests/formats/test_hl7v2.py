"""The HL7 v2 routing parser: paths, escapes, character sets, CPR, errors, batches."""

from __future__ import annotations

import re
from pathlib import Path

import hl7
import pytest

from engine.formats.hl7v2 import (
    HL7Error,
    HL7Message,
    Separators,
    decode,
    escape,
    extract_metadata,
    normalise_cpr,
    parse,
    split_batch,
)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "hl7v2"
SAMPLES = (REPO / ".." / "shared" / "samples" / "hl7v2").resolve()
PYTHON_HL7 = SAMPLES / "python-hl7"


def fixture(name: str) -> HL7Message:
    return parse((FIXTURES / name).read_bytes())


def message(*segments: str, end: str = "\r") -> bytes:
    return end.join(segments).encode() + end.encode()


MSH = "MSH|^~\\&|EPJ|RHH|KANAL|KANAL|20250314093000||ADT^A01^ADT_A01|C1|P|2.5"


# --- paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("MSH-1", "|"),
        ("MSH-2", "^~\\&"),
        ("MSH-3", "EPJ"),
        ("MSH-9", "ADT^A01^ADT_A01"),  # a whole composite field stays encoded
        ("MSH-9.1", "ADT"),
        ("MSH-9.2", "A01"),
        ("MSH-9.4", ""),
        ("MSH-10", "RHH-A01-000001"),
        ("MSH-10.2", ""),
        ("MSH-12", "2.5"),
        ("MSH-18", ""),
        ("PID-3", "1203521234^^^CPR^NNDN~H123456^^^RHH^MR"),
        ("PID-3.1", "1203521234"),  # a component path means the first repetition
        ("PID-3[1].5", "NNDN"),
        ("PID-3[2]", "H123456^^^RHH^MR"),
        ("PID-3[2].1", "H123456"),
        ("PID-3[2].4", "RHH"),
        ("PID-3[3].1", ""),
        ("PID-5.1", "Hansen"),
        ("PID-5.2", "Jens"),
        ("PID-5.1.1", "Hansen"),
        ("PID-5.1.2", ""),
        ("PID-11.3", "Horsens"),
        ("PID-99", ""),
        ("PV1-3.9", "Medicinsk Afdeling"),
        ("PV1[2]-3", ""),
        ("ZZZ-1", ""),
    ],
)
def test_get_paths(path: str, expected: str) -> None:
    assert fixture("adt_a01_admit.hl7").get(path) == expected


def test_get_repeated_segments_and_subcomponents() -> None:
    msg = fixture("oru_r01_lab.hl7")
    assert msg.get("OBX-3.1") == "NPU02319"
    assert msg.get("OBX[2]-5") == "48"
    assert msg.get("OBX[2]-3.2") == "P—C-reaktivt protein;massek."
    assert msg.get("OBX[5]-6") == "µmol/L"
    assert msg.get("OBX[6]-5") == ""
    assert msg.get("PID-3.4") == "CPR&1.2.208.176.1.2&ISO"  # still structured: encoded
    assert msg.get("PID-3.4.1") == "CPR"
    assert msg.get("PID-3.4.2") == "1.2.208.176.1.2"
    assert msg.get("PID-3.4.4") == ""


def test_segment_names() -> None:
    msg = fixture("oru_r01_lab.hl7")
    assert msg.segment_names() == ["MSH", "PID", "PV1", "ORC", "OBR"] + ["OBX"] * 5 + ["NTE"]
    msg.segment_names().clear()  # a copy: the message is unchanged
    assert len(msg.segment_names()) == 11


@pytest.mark.parametrize(
    "path", ["PID3", "PID-0", "PID-3[0]", "PID-3.0", "pid-3", "PID-3.1.1.1", ""]
)
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match="HL7 path"):
        fixture("adt_a01_admit.hl7").get(path)


def test_message_attributes() -> None:
    raw = (FIXTURES / "adt_a01_admit.hl7").read_bytes()
    msg = parse(raw)
    assert msg.raw is raw
    assert msg.codec == "utf-8"
    assert msg.text == raw.decode()
    assert "1203521234" not in repr(msg)  # no patient data in logs


# --- escapes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("a\\F\\b", "a|b"),
        ("a\\S\\b", "a^b"),
        ("a\\T\\b", "a&b"),
        ("a\\R\\b", "a~b"),
        ("a\\E\\b", "a\\b"),
        ("\\F\\\\S\\\\T\\\\R\\\\E\\", "|^&~\\"),
        ("line1\\X0D0A\\line2", "line1\r\nline2"),
        ("\\XC3A6\\blegr\\XC3B8\\d", "æblegrød"),
        ("\\X4869\\", "Hi"),
        ("a\\H\\bold\\N\\b", "a\\H\\bold\\N\\b"),  # unknown: left as it is
        ("x\\.br\\y", "x\\.br\\y"),
        ("\\Xzz\\", "\\Xzz\\"),
        ("trailing \\", "trailing \\"),
        ("no escapes", "no escapes"),
    ],
)
def test_unescape(encoded: str, decoded: str) -> None:
    msg = parse(message(MSH, "NTE|1||" + encoded))
    assert msg.get("NTE-3") == decoded


def test_escapes_in_components_and_composites() -> None:
    msg = parse(message(MSH, "PID|1||X1||O\\T\\Brien^Ann\\S\\Marie"))
    assert msg.get("PID-5.1") == "O&Brien"
    assert msg.get("PID-5.2") == "Ann^Marie"
    assert msg.get("PID-5") == "O\\T\\Brien^Ann\\S\\Marie"  # composite: kept encoded


@pytest.mark.parametrize(
    "encoding", [Separators(), "^~\\&", "|^~\\&"], ids=["separators", "msh2", "msh1+2"]
)
def test_escape_round_trip(encoding: Separators | str) -> None:
    value = "a|b^c&d~e\\f\r\ng"
    escaped = escape(value, encoding)
    assert escaped == "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X0D\\\\X0A\\g"
    assert parse(message(MSH, "NTE|1||" + escaped)).get("NTE-3") == value


def test_escape_with_message_separators() -> None:
    msg = parse(message("MSH$%~\\&$EPJ$RHH$$$$$ADT%A01$C1$P$2.5"))
    assert escape("50% $ off", msg) == "50\\S\\ \\F\\ off"
    assert escape("plain", msg) == "plain"


# --- line endings and encoding characters ------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        message(MSH, "PID|1||X1", "PV1|1|I"),
        message(MSH, "PID|1||X1", "PV1|1|I", end="\n"),
        message(MSH, "PID|1||X1", "PV1|1|I", end="\r\n"),
        (MSH + "\r\nPID|1||X1\nPV1|1|I").encode(),  # mixed, no final terminator
        ("\r\n" + MSH + "\r\r\n\nPID|1||X1\r \r\nPV1|1|I\r\n\r\n").encode(),  # blank lines
        ("\x0b" + MSH + "\rPID|1||X1\rPV1|1|I\x1c\r").encode(),  # MLLP framing left on
        ("\ufeff" + MSH + "\nPID|1||X1\nPV1|1|I\n").encode(),  # UTF-8 byte order mark
    ],
    ids=["cr", "lf", "crlf", "mixed", "blank-lines", "mllp", "bom"],
)
def test_any_line_ending(raw: bytes) -> None:
    msg = parse(raw)
    assert msg.segment_names() == ["MSH", "PID", "PV1"]
    assert msg.get("PID-3") == "X1"
    assert msg.get("PV1-2") == "I"
    assert msg.get("MSH-12") == "2.5"


def test_short_encoding_characters_without_repetition() -> None:
    # "^\&": no repetition character; "~" is then ordinary data.
    msg = parse(message("MSH|^\\&|EPJ|RHH|||||ADT^A01|C1|P|2.3", "PID|1||A~B^^^X&Y"))
    assert msg.separators == Separators("|", "^", "", "\\", "&")
    assert msg.get("PID-3.1") == "A~B"
    assert msg.get("PID-3[2].1") == ""
    assert msg.get("PID-3.4.2") == "Y"
    assert msg.get("MSH-2") == "^\\&"


def test_short_encoding_characters_without_escape() -> None:
    # "^~&" (seen in PHLIP samples): "&" stays the subcomponent separator.
    msg = parse(message("MSH|^~&|LAB|RHH|||||ORU^R01|C1|P|2.5.1", "PID|1||7^^^MPI&1.2.3&ISO"))
    assert msg.separators == Separators("|", "^", "~", "", "&")
    assert msg.get("PID-3.4.2") == "1.2.3"
    assert msg.get("MSH-12") == "2.5.1"


def test_non_standard_separators() -> None:
    raw = message("MSH$%~\\&$EPJ$RHH$KANAL$$$$ADT%A01$C1$P$2.5", "PID$1$$X%%%CPR~Y%%%RHH")
    msg = parse(raw)
    assert msg.get("MSH-1") == "$"
    assert msg.get("MSH-2") == "%~\\&"
    assert msg.get("MSH-9.2") == "A01"
    assert msg.get("PID-3[2].1") == "Y"
    assert extract_metadata(msg).type == "ADT^A01"


def test_truncation_character_is_ignored() -> None:
    msg = parse(message("MSH|^~\\&#|EPJ|RHH|||||ADT^A01|C1|P|2.7", "PID|1||X1^^^CPR"))
    assert msg.get("MSH-2") == "^~\\&#"
    assert msg.get("PID-3.4") == "CPR"


# --- character sets --------------------------------------------------------------------------


def test_latin1_fixture() -> None:
    raw = (FIXTURES / "adt_a08_update_latin1.hl7").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the fixture really is Latin-1
    msg = parse(raw)
    assert msg.codec == "latin-1"
    assert msg.get("MSH-18") == "8859/1"
    assert msg.get("PID-5.1") == "Østergård"
    assert msg.get("PID-5.2") == "Søren Åge"
    assert msg.get("PID-11.1") == "Æblehaven 3"
    assert msg.get("PID-11.3") == "Ærøskøbing"
    assert extract_metadata(msg).charset == "latin-1"


def _with_charset(charset: str, body: bytes) -> bytes:
    return b"MSH|^~\\&|EPJ|RHH|||||ADT^A01|C1|P|2.5||||||" + charset.encode() + b"\rNTE|1||" + body


@pytest.mark.parametrize(
    ("charset", "body", "codec", "text"),
    [
        ("UNICODE UTF-8", "æøå".encode(), "utf-8", "æøå"),
        ("UTF-8", "æøå".encode(), "utf-8", "æøå"),
        ("8859/1", "æøå".encode("latin-1"), "latin-1", "æøå"),
        ("8859/15", "€".encode("iso8859-15"), "iso8859-15", "€"),
        ("ASCII", b"plain", "ascii", "plain"),
        ("ASCII", "æ".encode("latin-1"), "latin-1", "æ"),  # mislabelled: Latin-1 fallback
        ("UNICODE UTF-8", "æ".encode("latin-1"), "latin-1", "æ"),
        ("8859/1~UNICODE UTF-8", "ø".encode("latin-1"), "latin-1", "ø"),  # first repetition
        ("", "æøå".encode(), "utf-8", "æøå"),  # absent: UTF-8 if it decodes
        ("", "æøå".encode("latin-1"), "latin-1", "æøå"),  # ... else Latin-1
        ("KLINGON", "æ".encode(), "utf-8", "æ"),  # unknown: as if absent
    ],
)
def test_decode_honours_msh18(charset: str, body: bytes, codec: str, text: str) -> None:
    raw = _with_charset(charset, body)
    decoded, used = decode(raw)
    assert used == codec
    assert decoded.endswith(text)
    msg = parse(raw)
    assert msg.codec == codec
    assert msg.get("NTE-3") == text


@pytest.mark.parametrize("raw", [b"", b"\xff\xfe\x00", b"MSH", b"MSH|^~\\&|" + bytes(range(256))])
def test_decode_never_fails(raw: bytes) -> None:
    text, codec = decode(raw)
    assert text.encode(codec) == raw


# --- metadata and CPR ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "type_", "control_id", "cpr", "charset"),
    [
        ("adt_a01_admit.hl7", "ADT^A01", "RHH-A01-000001", "1203521234", "utf-8"),
        ("adt_a03_discharge.hl7", "ADT^A03", "RHH-A03-000001", "1203521234", "utf-8"),
        ("oru_r01_lab.hl7", "ORU^R01", "RHH-R01-000001", "1203521234", "utf-8"),
        ("adt_a08_update_latin1.hl7", "ADT^A08", "RHH-A08-000001", "0507484321", "latin-1"),
        ("ref_i12_referral.hl7", "REF^I12", "REF-000001", "1203521234", "utf-8"),
    ],
)
def test_fixture_metadata(name: str, type_: str, control_id: str, cpr: str, charset: str) -> None:
    meta = extract_metadata(fixture(name))
    assert (meta.format, meta.type, meta.control_id) == ("hl7v2", type_, control_id)
    assert (meta.cpr, meta.charset, meta.version) == (cpr, charset, "2.5")
    assert meta.receiver == "KANAL^KANAL"
    assert meta.receipt_requested is True
    assert meta.envelope_id is None
    assert meta.patient_ids[0] == cpr


def test_metadata_sender_receiver_and_ids() -> None:
    meta = extract_metadata(fixture("adt_a01_admit.hl7"))
    assert meta.sender == "EPJ^RHH"
    assert meta.patient_ids == ["1203521234", "H123456"]
    assert meta.as_dict() == {
        "format": "hl7v2",
        "type": "ADT^A01",
        "control_id": "RHH-A01-000001",
        "sender": "EPJ^RHH",
        "receiver": "KANAL^KANAL",
        "version": "2.5",
        "cpr": "1203521234",
        "patient_ids": ["1203521234", "H123456"],
        "charset": "utf-8",
        "envelope_id": None,
        "receipt_requested": True,
        "sender_sor": "",
        "receiver_sor": "",
        "episode_of_care_id": "",
    }
    # The SOR-coded facility: MSH-4.1 only.
    assert extract_metadata(fixture("ref_i12_referral.hl7")).sender == "EPJ^1234567890123"


@pytest.mark.parametrize(
    ("msh", "sender", "receiver", "type_", "version", "receipt"),
    [
        ("MSH|^~\\&|APP||REC|FAC|||ACK|C1|P|2.4", "APP^", "REC^FAC", "ACK", "2.4", True),
        ("MSH|^~\\&||FAC|||||ADT^A01|C1|P|2.5.1^DNK|||AL|NE", "^FAC", "", "ADT^A01", "2.5.1", True),
        ("MSH|^~\\&|A^1^I|F||||X|ORU^R01^X~Y|C1|P|2.5|||NE", "A^F", "", "ORU^R01", "2.5", False),
        ("MSH|^~\\&|A|F||||X|ORU^R01|C1|P|2.5|||ne|AL", "A^F", "", "ORU^R01", "2.5", False),
        ("MSH|^~\\&|A|F||||X|ORU^R01|C1|P|2.5|||ER", "A^F", "", "ORU^R01", "2.5", True),
    ],
)
def test_metadata_header_fields(
    msh: str, sender: str, receiver: str, type_: str, version: str, receipt: bool
) -> None:
    meta = extract_metadata(parse(message(msh)))
    assert (meta.sender, meta.receiver, meta.type) == (sender, receiver, type_)
    assert (meta.version, meta.receipt_requested) == (version, receipt)
    assert meta.cpr is None
    assert meta.patient_ids == []


@pytest.mark.parametrize(
    ("pid3", "cpr", "ids"),
    [
        ("0101451234^^^CPR^NNDN~H123456^^^RHH^MR", "0101451234", ["0101451234", "H123456"]),
        ("010145-1234^^^CPR", "0101451234", ["010145-1234"]),  # hyphen removed
        ("H123456^^^RHH^MR~0101454321^^^^NNDK", "0101454321", ["H123456", "0101454321"]),
        ("0101451234^^^DK-cpr", "0101451234", ["0101451234"]),  # any case
        ("0101451234^^^CPR&1.2.208.176.1.2&ISO", "0101451234", ["0101451234"]),
        ("0101451234^^^^CPR", "0101451234", ["0101451234"]),  # CPR as identifier type
        ("0101451234^^^RHH^MR", None, ["0101451234"]),  # ten digits, but not a CPR
        ("H123456^^^RHH^MR", None, ["H123456"]),
        ("010145123^^^CPR~0202025678^^^CPR", "0202025678", ["010145123", "0202025678"]),
        ("01014512345^^^CPR", None, ["01014512345"]),
        ("ABCDEFGHIJ^^^CPR", None, ["ABCDEFGHIJ"]),
        ("", None, []),
    ],
)
def test_cpr_extraction(pid3: str, cpr: str | None, ids: list[str]) -> None:
    meta = extract_metadata(parse(message(MSH, f"PID|1||{pid3}||Hansen^Jens")))
    assert meta.cpr == cpr
    assert meta.patient_ids == ids


def test_no_pid_segment() -> None:
    meta = extract_metadata(parse(message(MSH, "EVN|A01")))
    assert (meta.cpr, meta.patient_ids) == (None, [])


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0101451234", "0101451234"), (" 010145-1234 ", "0101451234"), ("01014512", None), ("", None)],
)
def test_normalise_cpr(value: str, expected: str | None) -> None:
    assert normalise_cpr(value) == expected


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code", "reason"),
    [
        (b"", "100", "empty"),
        (b" \r\n\t\r", "100", "empty"),
        (b"PID|1||0101451234^^^CPR", "100", "no MSH segment: message starts with 'PID|...'"),
        (b"0101451234 Jens Hansen", "100", "not a segment id"),
        (b"\x00\x01\x02", "100", "no MSH segment"),
        (b"BHS|^~\\&|EPJ\rMSH|^~\\&|||||||ADT^A01|C1|P|2.5", "100", "batch (BHS header)"),
        (b"FHS|^~\\&|EPJ\r", "100", "batch (FHS header)"),
        (b"MSH", "100", "no field separator (MSH-1)"),
        (b"MSHA^~\\&", "100", "MSH-1 field separator 'A'"),
        (b"MSH|", "100", "MSH-2 encoding characters are missing"),
        (b"MSH||EPJ|RHH", "100", "MSH-2 encoding characters are missing"),
        (b"MSH|^&&^|EPJ", "100", "repeat a character"),
        (b"MSH|^~\\&|EPJ|RHH", "101", "MSH-9 message type is missing"),
        (b"MSH|^~\\&|EPJ|RHH||||||C1|P|2.5", "101", "MSH-9 message type is missing"),
        (b"MSH|^~\\&|EPJ|RHH|||||^A01|C1|P|2.5", "101", "MSH-9 message type is missing"),
        (b"MSH|^~\\&|EPJ|RHH|||||ADT^A01", "101", "MSH-10 message control id is missing"),
        (b"MSH|^~\\&|EPJ|RHH|||||ADT^A01||P|2.5", "101", "MSH-10 message control id is missing"),
        (b"MSH|^~\\&|EPJ|RHH|||||ADT^A01|C1|P", "101", "MSH-12 version id is missing"),
        (b"MSH|^~\\&|EPJ|RHH|||||ADT^A01|C1|P||", "101", "MSH-12 version id is missing"),
        (
            message(MSH, "PID|1||X", MSH, "PID|1||Y"),
            "100",
            "more than one MSH segment: use split_batch",
        ),
    ],
)
def test_errors(raw: bytes, code: str, reason: str) -> None:
    with pytest.raises(HL7Error) as caught:
        parse(raw)
    assert caught.value.code == code
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValueError)
    assert not re.search(r"\d{4}", caught.value.reason)  # never a CPR (or part of one)


def test_error_location_for_missing_fields() -> None:
    with pytest.raises(HL7Error) as caught:
        parse(b"MSH|^~\\&|EPJ|RHH|||||ADT^A01||P|2.5")
    assert caught.value.location == "MSH^1^10"
    assert str(caught.value) == "HL7 101: MSH-10 message control id is missing"


def test_error_default_reason() -> None:
    assert HL7Error("207").reason == "Application internal error"


# --- batches ---------------------------------------------------------------------------------


def _python_hl7_samples() -> list[Path]:
    return sorted(p for p in PYTHON_HL7.rglob("*") if p.is_file())


def _message_count(raw: bytes) -> int:
    """How many messages a sample holds, read from its content: its MSH segments."""
    lines = raw.replace(b"\r\n", b"\r").replace(b"\n", b"\r").split(b"\r")
    return sum(1 for line in lines if line.lstrip(b"\xef\xbb\xbf\x0b\x1c \t").startswith(b"MSH"))


def test_python_hl7_samples_are_there() -> None:
    names = [p.name for p in _python_hl7_samples()]
    assert len(names) > 20, f"no samples under {PYTHON_HL7}"
    assert sum("bad" in name for name in names) == 6


@pytest.mark.parametrize(
    "path", _python_hl7_samples(), ids=lambda p: str(p.relative_to(PYTHON_HL7))
)
def test_split_batch_python_hl7_samples(path: Path) -> None:
    raw = path.read_bytes()
    if "bad" in path.name:  # the MALFORMED samples
        with pytest.raises(HL7Error) as caught:
            split_batch(raw)
        assert caught.value.code == "100"
        assert re.search(r"nested (BHS|FHS)|no MSH before it", caught.value.reason)
        return
    parts = split_batch(raw)
    assert len(parts) == _message_count(raw) >= 1
    for part in parts:
        assert part.startswith(b"MSH")
        assert part.endswith(b"\r") and b"\n" not in part
        assert not re.search(rb"(^|\r)(FHS|BHS|BTS|FTS|\x0b|\x1c)", part)


def test_split_batch_file_with_two_batches() -> None:
    parts = split_batch((PYTHON_HL7 / "samples_sample_file1.hl7").read_bytes())
    ids = [parse(part).get("MSH-10") for part in parts]
    assert ids == ["12334456778890", "12334456778891", "12334456778890"]
    assert all(parse(part).segment_names()[0:2] == ["MSH", "EVN"] for part in parts)


@pytest.mark.parametrize(
    "name", ["loose_windows_newline", "loose_unix_newline", "loose_send_multiple"]
)
def test_split_batch_ignores_framing_and_line_endings(name: str) -> None:
    sent = (PYTHON_HL7 / "mllp" / f"{name}.input.bin").read_bytes()
    framed = (PYTHON_HL7 / "mllp" / f"{name}.expected.bin").read_bytes()
    assert split_batch(sent) == split_batch(framed)


def test_split_batch_keeps_each_message_bytes() -> None:
    latin1 = (FIXTURES / "adt_a08_update_latin1.hl7").read_bytes()
    utf8 = (FIXTURES / "oru_r01_lab.hl7").read_bytes()
    batch = b"BHS|^~\\&|EPJ\r\n" + latin1 + b"\n" + utf8 + b"BTS|2\r\n"
    assert split_batch(batch) == [latin1, utf8]
    assert split_batch(latin1) == [latin1]


@pytest.mark.parametrize(
    ("raw", "count"),
    [
        (b"FHS|^~\\&\rBHS|^~\\&\rBTS|0\rFTS|1\r", 0),  # an empty batch is not an error
        (b"FHS|^~\\&\rMSH|^~\\&|A\rFTS|1\rFHS|^~\\&\rMSH|^~\\&|B\rFTS|1", 2),  # two files
        (b"BHS|^~\\&\rMSH|^~\\&|A\rBTS|1\rBHS|^~\\&\rMSH|^~\\&|B\rBTS|1", 2),
        (b"MSH|^~\\&|A\r\r\n  \r\nPID|1\r\x1c\r", 1),
    ],
)
def test_split_batch_envelopes(raw: bytes, count: int) -> None:
    assert len(split_batch(raw)) == count


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty input"),
        (b" \r\n \x0b\x1c\r", "empty input"),
        (b"PID|1||0101451234", "segment 'PID' (segment 1) is not in a message"),
        (b"BHS|^~\\&\rMSH|^~\\&|A\rBTS|1\rEVN|A01", "segment 'EVN' (segment 4)"),
        (b"FHS|^~\\&\rBHS|^~\\&\rFHS|^~\\&", "nested FHS at segment 3"),
        (b"BHS|^~\\&\rMSH|^~\\&|A\rBHS|^~\\&", "nested BHS at segment 3"),
    ],
)
def test_split_batch_errors(raw: bytes, reason: str) -> None:
    with pytest.raises(HL7Error) as caught:
        split_batch(raw)
    assert caught.value.code == "100"
    assert reason in caught.value.reason


# --- agreement with python-hl7 ---------------------------------------------------------------

# (segment, field, repetition, component, subcomponent): leaves python-hl7 can address too.
LEAVES = [
    ("MSH", 3, 1, 1, 1),
    ("MSH", 4, 1, 1, 1),
    ("MSH", 9, 1, 1, 1),
    ("MSH", 9, 1, 2, 1),
    ("MSH", 10, 1, 1, 1),
    ("MSH", 12, 1, 1, 1),
    ("PID", 3, 1, 1, 1),
    ("PID", 3, 1, 4, 1),
    ("PID", 3, 2, 1, 1),
    ("PID", 5, 1, 1, 1),
    ("PID", 5, 1, 2, 1),
    ("PID", 11, 1, 3, 1),
    ("OBX", 3, 1, 1, 1),
    ("OBX", 5, 1, 1, 1),
]
WHOLE_FIELDS = [("MSH", 1), ("MSH", 2), ("MSH", 3), ("MSH", 9), ("MSH", 10), ("MSH", 12)]
WHOLE_FIELDS += [("PID", 3), ("PID", 5), ("OBX", 5)]


def _all_samples() -> list[Path]:
    return sorted(p for p in SAMPLES.rglob("*") if p.is_file())


def _reference_leaf(ref: hl7.Message, leaf: tuple[str, int, int, int, int]) -> str:
    segment, field, rep, comp, sub = leaf
    try:
        return str(ref.extract_field(segment, 1, field, rep, comp, sub))
    except (IndexError, KeyError):  # python-hl7's way of saying "not there"
        return ""


def _reference_field(ref: hl7.Message, segment: str, field: int) -> str:
    try:
        fields = ref.segment(segment)
    except KeyError:
        return ""
    return str(fields[field]) if field < len(fields) else ""


def _compare(raw: bytes) -> int:
    """Compare our values with python-hl7's for one message; the number of values compared."""
    text, codec = decode(raw)
    try:
        ref = hl7.parse(text)
    except Exception:  # python-hl7 cannot read it either: nothing to compare
        return 0
    try:
        parse(raw)
    except HL7Error as exc:
        if exc.code != "101":  # separators python-hl7 reads by position but we refuse
            assert "MSH-2 encoding characters" in exc.reason
            return 0
        # We call a required field missing: python-hl7 must agree. Compare the rest anyway.
        number = int(exc.location.split("^")[2])
        assert not _reference_leaf(ref, ("MSH", number, 1, 1, 1)).strip()
    ours = HL7Message(raw, text, codec, strict=False)
    assert ours.segment_names() == [str(segment[0]) for segment in ref]
    compared = 0
    escape_char = ours.separators.escape or "\x00"
    for segment, field in WHOLE_FIELDS:
        expected = _reference_field(ref, segment, field)
        if escape_char not in expected or field <= 2:
            assert ours.get(f"{segment}-{field}") == expected, (segment, field)
            compared += 1
    if len(ours.get("MSH-2")) < 4:  # python-hl7 reads a short MSH-2 by position; we do not
        return compared
    for leaf in LEAVES:
        expected = _reference_leaf(ref, leaf)
        if escape_char not in _reference_field(ref, leaf[0], leaf[1]):
            segment, field, rep, comp, sub = leaf
            assert ours.get(f"{segment}-{field}[{rep}].{comp}.{sub}") == expected, leaf
            compared += 1
    return compared


def test_agrees_with_python_hl7_on_every_sample() -> None:
    compared = 0
    for path in _all_samples():
        try:
            parts = split_batch(path.read_bytes())
        except HL7Error:
            continue  # malformed batches and empty files: covered above
        for part in parts:
            compared += _compare(part)
    assert compared > 500  # most samples were really compared, not skipped
