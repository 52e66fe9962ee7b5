"""EDIFACT in the rules language: read by XPath over the interchange tree, written as a
tree and serialised with counts filled in; MedCom free text both ways; include files;
a source namespace that follows the message; a per-message target namespace."""

from __future__ import annotations

import textwrap

import pytest
from conftest import FIXTURES

from engine.config import ConfigError
from engine.formats.edifact import parse_edifact
from engine.mapping.edifact_filters import (
    edifact_text,
    edifact_text_lines,
    edifact_to_medcom_date,
    edifact_to_medcom_time,
    medcom_to_edifact,
)
from engine.mapping.loader import load_mapping
from engine.mapping.testing import convert

DIS01 = (FIXTURES / "edifact" / "dis01_discharge.edi").read_bytes()
XDIS91 = (FIXTURES / "oioxml" / "xdis91_correspondence.xml").read_bytes()


def mapping(tmp_path, body: str, files: dict[str, str] | None = None):
    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    (folder / "mapping.toml").write_text(textwrap.dedent(body))
    for name, text in (files or {}).items():
        (folder / name).write_text(textwrap.dedent(text))
    return load_mapping(tmp_path, "m")


def test_edifact_source_reads_groups_and_keeps_values_exactly(tmp_path):
    m = mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        source = "edifact"
        target = "json"
        [[rule]]
        name = "sender"
        from = "Message/S01[SEQ/e2 = '1']/NAD/e4/c1"
        to = "sender"
        [[rule]]
        name = "admitted"
        from = "Message/S11/DTM[e1/c1 = '90']/e1/c2"
        to = "admitted"
        value = "{{ value | edifact_to_medcom_date }} {{ value | edifact_to_medcom_time }}"
        [[rule]]
        name = "text"
        to = "text"
        value = "{{ source.select('Message//FTX/e4/*') | edifact_text }}"
        """,
    )
    out = convert(m, DIS01).decode()
    assert '"sender":"Testhospitalet"' in out
    assert '"admitted":"2026-11-10 08:00"' in out
    # the continued line is joined (its space kept), "." is an empty line
    assert "Udskrevet i god almentilstand.\\n\\nKontrol hos egen læge om 14 dage.\\n" in out


def test_edifact_target_writes_groups_escapes_and_fills_in_counts(tmp_path):
    m = mapping(
        tmp_path,
        """
        [mapping]
        kind = "rules"
        source = "xml"
        target = "edifact"
        namespaces = { m = "*" }
        [[rule]]
        name = "syntax"
        to = "UNB/e1/c1"
        value = "UNOC"
        [[rule]]
        name = "sender"
        from = "//m:Sender/m:EANIdentifier"
        to = "UNB/e2/c1"
        [[rule]]
        name = "receiver"
        from = "//m:Receiver/m:EANIdentifier"
        to = "UNB/e3/c1"
        [[rule]]
        name = "date"
        to = "UNB/e4/c1"
        value = "261122"
        [[rule]]
        name = "envelope"
        from = "m:Envelope/m:Identifier"
        to = "UNB/e5"
        [[rule]]
        name = "letter"
        from = "//m:Letter/m:Identifier"
        to = "Message/UNH/e1"
        [[rule]]
        name = "message"
        to = "Message/UNH/e2/c1"
        value = "MEDDIS"
        [[rule]]
        name = "code"
        to = "Message/UNH/e3"
        value = "DIS91"
        [[rule]]
        name = "sender-name"
        from = "//m:Sender/m:OrganisationName"
        to = "Message/S01[+]/NAD/e4/c1"
        [[rule]]
        name = "qualifier"
        to = "Message/S01[=]/NAD/e1"
        value = "SSP"
        [[rule]]
        name = "text"
        for_each = "//m:ClinicalInformation/m:Text01"
        split = "medcom-text"
        via = "ftx"
        to = "Message/S02/FTX[+]"
        [via.ftx]
        [[via.ftx.rule]]
        name = "kind"
        to = "e1"
        value = "NC"
        [[via.ftx.rule]]
        name = "lines"
        from = ["1"]
        to = "e4/c1"
        [[via.ftx.rule]]
        name = "line-2"
        from = "2"
        to = "e4/c2"
        """,
    )
    out = convert(m, XDIS91)
    interchange = parse_edifact(out)  # valid: counts and references filled in
    tags = [s.tag for s in interchange.segments]
    assert tags[:4] == ["UNB", "UNH", "S01", "NAD"]
    assert "S02" in tags and tags[-2:] == ["UNT", "UNZ"]
    unt = interchange.first("UNT")
    assert interchange.value(unt, 0) == str(tags.index("UNT") - tags.index("UNH") + 1)
    assert b"UNA:+.? '" in out


def test_free_text_round_trip_and_wrapping() -> None:
    text = "\nFørste linje.\n" + "ord " * 30 + "slut.\n\nSidste: 1+1=2?\n"
    lines = edifact_text_lines(text)
    assert all(len(line) <= 70 for line in lines)
    assert lines[0] == "." and lines[2].endswith("\\") and "." in lines
    assert edifact_text(lines) == text


@pytest.mark.parametrize(
    ("value", "date", "time"),
    [("199901151012", "1999-01-15", "10:12"), ("20040120141919", "2004-01-20", "14:19")],
)
def test_edifact_dates(value: str, date: str, time: str) -> None:
    assert (edifact_to_medcom_date(value), edifact_to_medcom_time(value)) == (date, time)
    assert medcom_to_edifact(date, time, "203") == value[:12]
    assert edifact_to_medcom_date("990115") == "1999-01-15"
    assert edifact_to_medcom_date("040120") == "2004-01-20"
    assert medcom_to_edifact(date, "", "101") == value[2:8]


def test_included_files_add_sub_mappings_and_may_not_redefine(tmp_path):
    body = """
        [mapping]
        kind = "rules"
        source = "edifact"
        target = "json"
        include = ["parties.toml"]
        [[rule]]
        name = "sender"
        from = "Message/S01[1]"
        via = "party"
        to = "sender"
        """
    party = """
        [via.party]
        [[via.party.rule]]
        name = "name"
        from = "NAD/e4/c1"
        to = "name"
        """
    m = mapping(tmp_path, body, {"parties.toml": party})
    assert convert(m, DIS01) == b'{"sender":{"name":"Testhospitalet"}}'
    twice = body.replace("[[rule]]", party.replace("        ", "") + "\n[[rule]]", 1)
    with pytest.raises(ConfigError, match="defined twice"):
        mapping(tmp_path, twice, {"parties.toml": party})
    with pytest.raises(ConfigError, match="outside the mapping's folder"):
        mapping(tmp_path, body.replace("parties.toml", "../parties.toml"))
