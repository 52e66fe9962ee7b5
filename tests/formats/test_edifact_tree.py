"""An interchange read into the tree mappings address, and written back unchanged."""

from __future__ import annotations

import pytest
from conftest import SHARED

from engine.formats.edifact import parse_edifact
from engine.formats.edifact.tree import from_tree, to_tree, with_counts

PAIRS = sorted((SHARED / "medcom" / "pairs").glob("*.edi"))
OK = sorted((SHARED / "medcom" / "edifact_negative").glob("*_ok*.edi"))


def _segments(raw: bytes) -> list[bytes]:
    return raw.replace(b"\r", b"").replace(b"\n", b"").removeprefix(b"UNA:+.? '").split(b"'")


@pytest.mark.parametrize("path", PAIRS + OK, ids=lambda p: p.name)
def test_every_interchange_is_written_back_as_it_came(path) -> None:  # type: ignore[no-untyped-def]
    raw = path.read_bytes()
    assert _segments(from_tree(to_tree(parse_edifact(raw)))) == _segments(raw)


def test_groups_marked_by_s_segments_hold_their_segments() -> None:
    tree = to_tree(parse_edifact((SHARED / "medcom" / "pairs" / "DIS01_1.edi").read_bytes()))
    sender = tree.xpath("Message/S01[SEQ/e2 = '1']")[0]
    assert [child.tag for child in sender] == ["NAD", "SEQ", "SPR"]
    assert sender.xpath("string(NAD/e4/c1)") == "HILLERØD SYGEHUS"
    assert tree.xpath("string(Message/S07/PNA/e2/c1)") == "0108584947"
    assert tree.xpath("count(Message/S14)") == 4


def test_unmarked_groups_nest_as_the_group_table_says() -> None:
    tree = to_tree(parse_edifact((SHARED / "medcom" / "pairs" / "PRE01_1.edi").read_bytes()))
    drugs = tree.xpath("Message/S01/S02/S04")  # not at all: S02 closes S01
    assert drugs == []
    lines = tree.xpath("Message//S04")
    assert [line.xpath("string(LIN/e3/c1)") for line in lines] == ["168740", "467886"]
    assert [line.xpath("string(S07/DSG/e2/c4)") for line in lines] == [
        "1 tablet 2 gange daglig",
        "1 kapsel 3 gange daglig",
    ]
    # unmarked groups are written back without S segments
    assert b"S04+" not in from_tree(tree)


def test_binary_objects_travel_in_the_tree() -> None:
    interchange = parse_edifact((SHARED / "medcom" / "pairs" / "BIN01_5.edi").read_bytes())
    tree = to_tree(interchange)
    assert tree.xpath("string(Message//UNO/e4/c1)") == "11944"
    written = from_tree(tree)
    assert interchange.binaries[0] in written


def test_counts_and_references_are_filled_in() -> None:
    tree = to_tree(parse_edifact((SHARED / "medcom" / "pairs" / "CTL03_1.edi").read_bytes()))
    expected = from_tree(tree)
    for path in ("Message/UNT", "UNZ"):
        node = tree.find(path)
        node.getparent().remove(node)
    assert from_tree(with_counts(tree)) == expected
