"""HL7 v2 ACKs: what we answer with, and reading the ACKs partners send back."""

from __future__ import annotations

import random
import re
from pathlib import Path

import hl7
import pytest

from engine.formats.hl7v2 import HL7Error, HL7Message, parse
from engine.receipts.hl7_ack import build_ack, parse_ack

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "hl7v2"
PYTHON_HL7 = (REPO / ".." / "shared" / "samples" / "hl7v2" / "python-hl7").resolve()


def fixture(name: str) -> HL7Message:
    return parse((FIXTURES / name).read_bytes())


def read_ack(ack: bytes, codec: str = "utf-8") -> HL7Message:
    """An ACK we built must itself be a valid message by our own strict rules."""
    assert ack.endswith(b"\r") and b"\n" not in ack
    return HL7Message(ack, ack.decode(codec), codec)


def test_aa_ack_swaps_sender_and_receiver() -> None:
    original = fixture("adt_a01_admit.hl7")
    ack = read_ack(build_ack(original, "AA"))
    assert ack.segment_names() == ["MSH", "MSA"]
    assert ack.get("MSH-2") == original.get("MSH-2")
    assert ack.get("MSH-3") == "KANAL"
    assert ack.get("MSH-4") == original.get("MSH-6")
    assert (ack.get("MSH-5"), ack.get("MSH-6")) == ("EPJ", "RHH")
    assert re.fullmatch(r"\d{14}", ack.get("MSH-7"))
    assert ack.get("MSH-9") == "ACK^A01^ACK"
    assert ack.get("MSH-10") and ack.get("MSH-10") != original.get("MSH-10")
    assert len(ack.get("MSH-10")) <= 20
    assert (ack.get("MSH-11"), ack.get("MSH-12")) == ("P", "2.5")
    assert ack.get("MSA-1") == "AA"
    assert ack.get("MSA-2") == original.get("MSH-10") == "RHH-A01-000001"


def test_ack_options() -> None:
    original = fixture("adt_a03_discharge.hl7")
    ack = read_ack(build_ack(original, "AA", control_id="ACK-1", application="KAN", facility="X"))
    assert (ack.get("MSH-3"), ack.get("MSH-4"), ack.get("MSH-10")) == ("KAN", "X", "ACK-1")
    ids = {read_ack(build_ack(original, "AA")).get("MSH-10") for _ in range(50)}
    assert len(ids) == 50  # fresh, unique control ids


def test_ack_without_trigger_and_defaults() -> None:
    original = parse(b"MSH|^~\\&|LAB|RHH|||||ORU|C7||2.4\rPID|1")
    ack = read_ack(build_ack(original, "AA"))
    assert ack.get("MSH-9") == "ACK"
    assert ack.get("MSH-11") == "P"  # absent in the original
    assert ack.get("MSH-12") == "2.4"
    assert ack.get("MSA-2") == "C7"


def test_ae_has_err_segment_with_the_text() -> None:
    original = fixture("oru_r01_lab.hl7")
    text = "PID-3 has no CPR"
    ack = read_ack(build_ack(original, "AE", text, "101", error_location="PID^1^3"))
    assert ack.segment_names() == ["MSH", "MSA", "ERR"]
    assert (ack.get("MSA-1"), ack.get("MSA-2"), ack.get("MSA-3")) == ("AE", "RHH-R01-000001", text)
    assert ack.get("ERR-1") == ""
    assert ack.get("ERR-2") == "PID^1^3"
    assert (ack.get("ERR-3.1"), ack.get("ERR-3.2"), ack.get("ERR-3.3")) == ("101", text, "HL70357")
    assert ack.get("ERR-4") == "E"


def test_err_defaults() -> None:
    ack = read_ack(build_ack(fixture("adt_a01_admit.hl7"), "AR"))
    assert ack.get("ERR-3") == "207^Application internal error^HL70357"
    assert ack.get("MSA-3") == ""


def test_err_before_version_2_5_uses_err_1() -> None:
    raw = (FIXTURES / "adt_a01_admit.hl7").read_bytes().replace(b"|P|2.5|", b"|P|2.3.1|")
    ack_bytes = build_ack(raw, "AE", "Ukendt afdeling", "103", error_location="PV1^1^3")
    assert b"\rERR|PV1^1^3^103&Ukendt afdeling&HL70357\r" in ack_bytes
    ack = read_ack(ack_bytes)
    assert ack.get("ERR-1.4.1") == "103"
    assert ack.get("ERR-1.4.2") == "Ukendt afdeling"
    assert build_ack(raw, "AE", "x").endswith(b"\rERR|^^^207&x&HL70357\r")


@pytest.mark.parametrize("code", ["AA", "AE", "AR", "CA", "CE", "CR"])
def test_ack_codes(code: str) -> None:
    ack = read_ack(build_ack(fixture("adt_a01_admit.hl7"), code, "why"))
    assert ack.get("MSA-1") == code
    assert ("ERR" in ack.segment_names()) == (code not in ("AA", "CA"))


def test_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError, match="ACK code"):
        build_ack(fixture("adt_a01_admit.hl7"), "OK")


def test_text_is_escaped() -> None:
    text = "bad | field ^ & ~ \\ end\r\nnext line"
    ack_bytes = build_ack(fixture("adt_a01_admit.hl7"), "AE", text)
    assert ack_bytes.count(b"\r") == 3  # the line break did not end a segment
    ack = read_ack(ack_bytes)
    assert ack.get("MSA-3") == text
    assert ack.get("ERR-3.2") == text
    assert parse_ack(ack_bytes) == ("AE", "RHH-A01-000001", text)


def test_latin1_in_latin1_out() -> None:
    original = fixture("adt_a08_update_latin1.hl7")
    ack_bytes = build_ack(original, "AE", "Ukendt afdeling på Ærø", "103")
    with pytest.raises(UnicodeDecodeError):
        ack_bytes.decode("utf-8")
    ack = read_ack(ack_bytes, "latin-1")
    assert ack.get("MSH-18") == "8859/1"
    assert ack.get("MSA-3") == "Ukendt afdeling på Ærø"
    assert parse_ack(ack_bytes) == ("AE", "RHH-A08-000001", "Ukendt afdeling på Ærø")
    # The same from the raw bytes.
    assert build_ack(original.raw, "AE", "på Ærø").decode("latin-1").endswith("på Ærø^HL70357|E\r")


def test_utf8_charset_is_copied() -> None:
    ack_bytes = build_ack(fixture("ref_i12_referral.hl7"), "AE", "Søndergade ukendt")
    ack = read_ack(ack_bytes)
    assert ack.get("MSH-18") == "UNICODE UTF-8"
    assert "Søndergade ukendt".encode() in ack_bytes
    assert ack.get("MSH-4") == "KANAL"
    assert (ack.get("MSH-5"), ack.get("MSH-6")) == ("EPJ", "1234567890123^SOR")


def test_ascii_ack_with_danish_text_does_not_fail() -> None:
    raw = b"MSH|^~\\&|EPJ|RHH|||||ADT^A01|C1|P|2.5||||||ASCII\rPID|1"
    ack_bytes = build_ack(raw, "AE", "æ")
    assert ack_bytes.decode("ascii").count("?") == 2  # MSA-3 and ERR-3.2


def test_same_separators_as_the_original() -> None:
    raw = b"MSH$%~\\&$EPJ$RHH$KANAL$$$$ADT%A01$C1$P$2.5\rPID$1"
    ack_bytes = build_ack(raw, "AE", "50% off", "102")
    assert ack_bytes.startswith(b"MSH$%~\\&$KANAL$")
    ack = read_ack(ack_bytes)
    assert ack.get("MSH-9") == "ACK%A01%ACK"
    assert ack.get("MSA-3") == "50% off"
    assert ack.get("ERR-3.1") == "102"


def test_ack_from_bytes_equals_ack_from_message() -> None:
    original = fixture("oru_r01_lab.hl7")
    from_message = build_ack(original, "AA", control_id="X")
    from_bytes = build_ack(original.raw, "AA", control_id="X")
    strip_time = re.compile(rb"\|\d{14}\|")
    assert strip_time.sub(b"||", from_message) == strip_time.sub(b"||", from_bytes)


@pytest.mark.parametrize(
    ("raw", "control_id", "sender"),
    [
        (b"MSH|^~\\&|EPJ|RHH|||||ADT^A01|C42|P", "C42", ("EPJ", "RHH")),  # no version
        (b"MSH|^~\\&|EPJ|RHH|||||ADT^A01||P|2.5", "", ("EPJ", "RHH")),  # no control id
        (b"BHS|^~\\&|EPJ\rMSH|^~\\&|EPJ|RHH|||||ADT^A01|C43|P|2.5\rBTS|1", "C43", ("EPJ", "RHH")),
        (b"garbage\r\nMSH|^~\\&|EPJ|RHH|||||ADT^A01|C44|P|2.4\r", "C44", ("EPJ", "RHH")),
        (b"\x0bMSH|^~\\&|EPJ|RHH\x1c\r", "", ("EPJ", "RHH")),
        (b"MSH|^&&^|EPJ|RHH|||||ADT^A01|C45|P|2.5", "", ("", "")),  # unreadable separators
        (b"PID|1||0101451234^^^CPR", "", ("", "")),
        (b"", "", ("", "")),
        (b"\x00\xff\xfe\x1c", "", ("", "")),
    ],
)
def test_ack_for_unparseable_bytes(raw: bytes, control_id: str, sender: tuple[str, str]) -> None:
    ack_bytes = build_ack(raw, "AR", "cannot read the message", "100")
    ack = read_ack(ack_bytes, "latin-1")
    assert ack.get("MSA-1") == "AR"
    assert ack.get("MSA-2") == control_id
    assert (ack.get("MSH-5"), ack.get("MSH-6")) == sender
    assert "ERR" in ack.segment_names()
    assert parse_ack(ack_bytes) == ("AR", control_id, "cannot read the message")


def test_ack_for_random_bytes_never_raises() -> None:
    rnd = random.Random(20250314)
    base = (FIXTURES / "oru_r01_lab.hl7").read_bytes()
    alphabet = b"|^~\\&\r\nMSH\x0b\x1c \xff\xc3"
    for _ in range(2000):
        data = bytearray(base[: rnd.randrange(300)])
        for _ in range(rnd.randrange(8)):
            if data:
                data[rnd.randrange(len(data))] = rnd.choice(alphabet)
        code = rnd.choice(["AA", "AE", "AR", "CA", "CE", "CR"])
        ack = build_ack(bytes(data), code, "text")
        assert ack.startswith(b"MSH")
        assert parse_ack(ack)[0] == code
    for _ in range(500):
        noise = bytes(rnd.randrange(256) for _ in range(rnd.randrange(64)))
        assert build_ack(noise, "AE").startswith(b"MSH|^~\\&|KANAL|")


def test_python_hl7_reads_our_ack() -> None:
    original = fixture("adt_a01_admit.hl7")
    ack = hl7.parse(build_ack(original, "AE", "nope", "207").decode())
    assert str(ack.segment("MSA")[2]) == "RHH-A01-000001"
    assert str(ack.segment("MSH")[9]) == "ACK^A01^ACK"
    assert str(ack.segment("ERR")[3][0][0]) == "207"


# --- parse_ack -------------------------------------------------------------------------------


def test_parse_ack_round_trip() -> None:
    original = fixture("adt_a01_admit.hl7")
    assert parse_ack(build_ack(original, "AA")) == ("AA", "RHH-A01-000001", "")
    assert parse_ack(build_ack(original, "CR", "no", "200")) == ("CR", "RHH-A01-000001", "no")


V25 = b"MSH|^~\\&|EPJ|RHH|||||ACK|9|P|2.5\rMSA|"
V23 = b"MSH|^~\\&|EPJ|RHH|||||ACK|9|P|2.3\rMSA|"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (V25 + b"AA|C1", ("AA", "C1", "")),
        (V25 + b"AE|C1\rERR||PID^1^3|101^Missing^HL70357|E", ("AE", "C1", "Missing")),
        (V25 + b"AE|C1\rERR||||E||||Check PID", ("AE", "C1", "Check PID")),  # ERR-8
        (V25 + b"AE|C1\rERR||||E|||Diagnosis", ("AE", "C1", "Diagnosis")),  # ERR-7
        (V23 + b"AR|C1\rERR|^^^207&Down&HL70357", ("AR", "C1", "Down")),
        (V23 + b"AR|C1\rERR|^^^207", ("AR", "C1", "207")),
        (b"\x0bMSH|^~\\&\r\nMSA|CA|C2|Taken\x1c\r", ("CA", "C2", "Taken")),  # loose MSH
    ],
)
def test_parse_ack(raw: bytes, expected: tuple[str, str, str]) -> None:
    assert parse_ack(raw) == expected


def test_parse_ack_python_hl7_sample() -> None:
    raw = (PYTHON_HL7 / "test_accessor_L41.hl7").read_bytes()  # an ACK without MSH-10
    assert parse_ack(raw) == ("AA", "", "Application Message")


@pytest.mark.parametrize(
    ("raw", "code", "reason"),
    [
        (V25[:-4] + b"ERR||||E", "100", "no MSA segment"),
        (V25 + b"|C1", "101", "MSA-1"),
        (b"", "100", "empty"),
        (b"NAK", "100", "no MSH segment"),
    ],
)
def test_parse_ack_errors(raw: bytes, code: str, reason: str) -> None:
    with pytest.raises(HL7Error) as caught:
        parse_ack(raw)
    assert caught.value.code == code
    assert reason in caught.value.reason
