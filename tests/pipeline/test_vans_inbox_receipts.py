"""MedCom letters through a VANS inbox: every letter answered with the receipt MedCom
requires, broken interchanges refused with a refusal code and reason and stored as ERROR,
duplicates answered identically and not delivered twice, and receipts from partners
correlated with what we sent."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from conftest import FIXTURES, SHARED, delivery_count, eventually, message_rows, to_directory

from engine.formats.edifact import parse_edifact
from engine.formats.envelope import unwrap, wrap_vans
from engine.formats.xml import parse_xml
from engine.receipts.medcom import build_ctl02, build_ctl03, read_receipt

NEGATIVE = SHARED / "medcom" / "edifact_negative"


def vans_inbox(name: str, inbox: Path, receipts: Path, *destinations: str) -> dict[str, str]:
    head = f"""
[channel]
name = "{name}"
[source]
type = "directory"
path = "{inbox}"
pattern = "*.edi"
poll = "100ms"
receipts = "{receipts}"
"""
    return {name: head + "\n".join(destinations)}


def drop(inbox: Path, name: str, raw: bytes) -> None:
    """As a VANS client does: write, then make it visible (settled: older than a poll)."""
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / name
    path.write_bytes(raw)
    past = time.time() - 5
    os.utime(path, (past, past))


def taken(inbox: Path, count: int) -> bool:
    done = [p for p in (inbox / "done").glob("*.edi")] if (inbox / "done").exists() else []
    failed = [p for p in (inbox / "error").glob("*.edi")] if (inbox / "error").exists() else []
    return len(done) + len(failed) == count


def segments(raw: bytes) -> list[str]:
    return [s for s in raw.decode("latin-1").replace("\r", "").replace("\n", "").split("'") if s]


async def test_every_negative_case_is_refused_with_a_reason_and_every_ok_one_taken(
    start_engine, tmp_path
):
    inbox, receipts, out = tmp_path / "vans-in", tmp_path / "receipts", tmp_path / "out"
    files = sorted(NEGATIVE.glob("*.edi"))
    for path in files:
        drop(inbox, path.name, path.read_bytes())
    engine = await start_engine(vans_inbox("gp-letters", inbox, receipts, to_directory("out", out)))
    await eventually(lambda: taken(inbox, len(files)))

    rows = {row.origin.removeprefix("file:"): row for row in message_rows(engine)}
    broken = [p.name for p in files if "ERROR" in p.name or p.name == "text.edi"]
    for name in broken:
        row = rows[name]
        assert row.status == "ERROR", name
        assert (inbox / "error" / name).exists()
        # the sender gets a CTL02 naming the problem: refusal code SYN and the reason
        receipt = parse_edifact((receipts / f"{Path(name).stem}.receipt.edi").read_bytes())
        assert receipt.value(receipt.first("UNH"), 2) == "CTL02"
        refusal = receipt.first("FTX")
        assert refusal is not None and receipt.value(refusal, 0) == "SYN", name
        text = "".join(c.rstrip("\\") for c in refusal.elements[3])
        assert row.error.replace("…", "") in text, name
    for path in files:
        if "_ok" in path.name:
            assert rows[path.name].status != "ERROR", path.name
            assert (inbox / "done" / path.name).exists()
    # PRE60_ok asks for a positive receipt (UNB ++++1): it gets a CTL03
    pre60 = parse_edifact((NEGATIVE / "PRE60_ok.edi").read_bytes())
    positive = [read_receipt(parse_edifact(p.read_bytes())) for p in receipts.glob("*.receipt.edi")]
    assert any(
        v is not None and v.positive and v.refers_to == pre60.value(pre60.first("UNB"), 4)
        for v in positive
    )


async def test_a_duplicate_gets_the_identical_receipt_and_is_not_delivered_again(
    start_engine, tmp_path
):
    inbox, receipts, out = tmp_path / "vans-in", tmp_path / "receipts", tmp_path / "out"
    letter = (NEGATIVE / "PRE60_ok.edi").read_bytes()
    engine = await start_engine(vans_inbox("gp-letters", inbox, receipts, to_directory("out", out)))
    drop(inbox, "first.edi", letter)
    await eventually(lambda: taken(inbox, 1))
    [receipt] = receipts.glob("*")
    first = receipt.read_bytes()
    receipt.unlink()  # the VANS client has collected it
    await asyncio.sleep(1.1)  # a later second: a receipt built afresh would differ in UNB's time
    drop(inbox, "again.edi", letter)
    await eventually(lambda: taken(inbox, 2))
    [again] = receipts.glob("*")
    assert again.read_bytes() == first
    first_row, second_row = message_rows(engine)
    assert second_row.status == "FILTERED"
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    assert delivery_count(engine, "QUEUED") == 0
    assert len(list(out.glob("*"))) == 1
    assert first_row.id != second_row.id


async def test_receipts_from_partners_move_deliveries_to_acknowledged_or_dead(
    start_engine, tmp_path
):
    """We forward two letters to a partner; its CTL03 for one and CTL02 for the other
    arrive in our receipt inbox and settle the deliveries."""
    inbox, receipts, out = tmp_path / "vans-in", tmp_path / "receipts", tmp_path / "out"
    partner_receipts = tmp_path / "partner-receipts"
    engine = await start_engine(
        {
            **vans_inbox("gp-letters", inbox, receipts, to_directory("hospital", out)),
            **vans_inbox("receipts-in", partner_receipts, tmp_path / "no-receipts"),
        }
    )
    accepted = (NEGATIVE / "PRE60_ok.edi").read_bytes()
    refused = (NEGATIVE / "DIS91_ok.edi").read_bytes()
    drop(inbox, "a.edi", accepted)
    drop(inbox, "b.edi", refused)
    await eventually(lambda: delivery_count(engine, "SENT") == 2)

    stamp = __import__("datetime").datetime(2026, 11, 22, 10, 0)
    ok = build_ctl03(parse_edifact(accepted), timestamp=stamp)
    no = build_ctl02(parse_edifact(refused), "LOK", "ukendt lokationsnummer", timestamp=stamp)
    drop(partner_receipts, "ctl03.edi", ok)
    drop(partner_receipts, "ctl02.edi", no)
    await eventually(lambda: delivery_count(engine, "ACKNOWLEDGED") == 1)
    await eventually(lambda: delivery_count(engine, "DEAD") == 1)
    # receipts are never answered with receipts
    assert not list((tmp_path / "no-receipts").glob("*"))


async def test_a_destination_can_send_each_letter_in_a_vans_envelope(start_engine, tmp_path):
    inbox, receipts, out = tmp_path / "vans-in", tmp_path / "receipts", tmp_path / "vans-out"
    letter = (NEGATIVE / "PRE60_ok.edi").read_bytes()
    await start_engine(
        vans_inbox("gp-letters", inbox, receipts, to_directory("pharmacy", out, envelope='"vans"'))
    )
    drop(inbox, "pre60.edi", letter)
    await eventually(lambda: len(list(out.glob("*"))) == 1)
    [sent] = out.glob("*")
    unwrapped = unwrap(parse_xml(sent.read_bytes()))
    assert unwrapped.kind == "vans" and unwrapped.payload == letter
    assert (unwrapped.sender, unwrapped.receiver) == ("5790000120314", "5790000654321")
    assert unwrapped.receipt_requested  # the letter asks for a receipt: reliable transport


async def test_a_reliable_vans_envelope_gets_its_transport_receipt_and_the_letter_its_own(
    start_engine, tmp_path
):
    inbox, receipts, out = tmp_path / "vans-in", tmp_path / "receipts", tmp_path / "out"
    letter = (FIXTURES / "oioxml" / "xdis91_correspondence.xml").read_bytes()
    envelope = wrap_vans(
        letter, sender="5790000120420", receiver="5790000128686", name="MCM:XDIS91"
    )
    engine = await start_engine(vans_inbox("gp-letters", inbox, receipts, to_directory("out", out)))
    drop(inbox, "letter.edi", envelope)  # the inbox takes *.edi
    await eventually(lambda: len(list(receipts.glob("*"))) == 2)
    transport = unwrap(parse_xml((receipts / "letter.vans-receipt.xml").read_bytes()))
    assert transport.receipt is not None and transport.receipt.status == "positive"
    assert transport.receipt.original_envelope_id == unwrap(parse_xml(envelope)).envelope_id
    xctl03 = read_receipt(parse_xml((receipts / "letter.receipt.xml").read_bytes()))
    assert xctl03 is not None and xctl03.kind == "CTL03" and xctl03.refers_to == "KUV2025032002"
    [row] = message_rows(engine)
    assert (row.format, row.type, row.status) == ("xml", "XDIS91", "ROUTED")
