"""MedCom EDIFACT: every reference interchange reads with the right metadata; every broken
one is refused with a MedCom refusal code and a reason that names the problem."""

from __future__ import annotations

import pytest
from conftest import SHARED

from engine.formats.edifact import EdifactError, parse_edifact
from engine.formats.sniff import parse_messages

PAIRS = sorted((SHARED / "medcom" / "pairs").glob("*.edi"))
NEGATIVE = SHARED / "medcom" / "edifact_negative"
ACCEPTED = [
    *sorted(NEGATIVE.glob("*_ok*.edi")),
    NEGATIVE / "XBIN_hello_World.edi",
    NEGATIVE / "sygehushenv_ver30.edi",
    NEGATIVE / "test.edi",
]
REFUSED = {
    "DIS20_ERROR_ENC0.edi": "declares UNOC (iso-8859-1) but is UTF-8 encoded",
    "text.edi": "declares UNOC (iso-8859-1) but is UTF-8 encoded",
    "DIS20_ERROR_UNB0.edi": "UNB: the interchange control reference (element 5) is missing",
    "DIS20_ERROR_UNB1.edi": "the interchange starts with UNH, not UNB",
    "DIS20_ERROR_UNB2.edi": "UNB inside the interchange",
    "DIS20_ERROR_UNB3.edi": "segments after UNZ: UNB",
    "DIS20_ERROR_UNH0.edi": "UNH: the message reference or type is missing",
    "DIS20_ERROR_UNH1.edi": "BGM outside a message: no UNH before it",
    "DIS20_ERROR_UNH2.edi": "UNT reference '24681012' does not match UNH reference '24681011'",
}


@pytest.mark.parametrize("path", PAIRS, ids=lambda p: p.name)
def test_every_reference_interchange_reads_with_its_letter_metadata(path):
    [parsed] = parse_messages(path.read_bytes())
    assert parsed.error is None
    meta = parsed.meta
    assert meta.format == "edifact" and meta.charset == "iso-8859-1"
    assert meta.type == path.stem.split("_")[0]  # the file is named after its BrvStat
    assert meta.envelope_id and meta.control_id and meta.sender and meta.receiver
    assert meta.version  # MedCom's version code, from UNH


def test_patient_and_envelope_of_a_discharge_letter():
    meta = parse_messages((SHARED / "medcom" / "pairs" / "DIS01_1.edi").read_bytes())[0].meta
    assert (meta.type, meta.control_id, meta.envelope_id) == (
        "DIS01",
        "BrevNr00129",
        "KuvertNr012234",
    )
    assert (meta.sender, meta.receiver, meta.version) == (
        "5790000120420",
        "5790000128686",
        "D0133L",
    )
    assert meta.cpr == "0108584947" and not meta.receipt_requested


def test_binary_objects_are_taken_out_whole():
    interchange = parse_edifact((SHARED / "medcom" / "pairs" / "BIN01_5.edi").read_bytes())
    [pdf] = interchange.binaries
    assert len(pdf) == 11944
    hello = parse_edifact((NEGATIVE / "XBIN_hello_World.edi").read_bytes())
    assert hello.binaries == [b"Hello World"]


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: p.name)
def test_the_valid_baselines_are_accepted(path):
    [parsed] = parse_messages(path.read_bytes())
    assert parsed.error is None, parsed.error


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_broken_interchanges_are_refused_with_code_and_reason(name):
    [parsed] = parse_messages((NEGATIVE / name).read_bytes())
    assert parsed.error_code == "SYN"
    assert REFUSED[name] in parsed.error


def test_every_negative_file_is_either_accepted_or_explained():
    names = {p.name for p in NEGATIVE.glob("*.edi")}
    assert names == set(REFUSED) | {p.name for p in ACCEPTED}


def test_counts_in_unt_and_unz_are_checked():
    raw = (SHARED / "medcom" / "pairs" / "DIS01_1.edi").read_bytes()
    with pytest.raises(EdifactError, match="UNZ counts 2 message"):
        parse_edifact(raw.replace(b"UNZ+1+", b"UNZ+2+"))
    start = raw.index(b"UNT+") + 4
    count = raw[start : raw.index(b"+", start)]
    with pytest.raises(EdifactError, match="UNT counts 99 segments"):
        parse_edifact(raw.replace(b"UNT+" + count, b"UNT+99"))


def test_a_segment_longer_than_any_edifact_segment_is_refused():
    raw = (SHARED / "medcom" / "pairs" / "DIS01_1.edi").read_bytes()
    longest = b"FTX+" + b"+".join([b"x"] * 99)  # 99 data elements: as long as one can be
    at = raw.index(b"UNT+")
    with pytest.raises(EdifactError, match="UNT counts"):  # read as far as the counts
        parse_edifact(raw[:at] + longest + b"'" + raw[at:])
    with pytest.raises(EdifactError, match="FTX: 100 data elements") as refused:
        parse_edifact(raw[:at] + longest + b"+x'" + raw[at:])
    assert refused.value.code == "SYN"
    with pytest.raises(EdifactError, match="FTX: element 1 has 100 components"):
        parse_edifact(raw[:at] + b"FTX+" + b":".join([b"x"] * 100) + b"'" + raw[at:])
