"""End to end through real directories: a GP system drops a DIS01 discharge letter (EDIFACT)
into the VANS inbox; the municipality receives it as XDIS01 (OIOXML); the GP gets a CTL03
positive receipt; the delivery is ACKNOWLEDGED once the municipality's own receipt
(XCTL03) arrives in our receipt inbox."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

from conftest import FIXTURES, SHARED, delivery_count, eventually, message_rows

from engine.formats.edifact import parse_edifact
from engine.formats.xml import SchemaCatalogue, parse_xml
from engine.receipts.medcom import build_xctl03, read_receipt

LETTER = FIXTURES / "edifact" / "dis01_discharge.edi"


def directory_channel(name: str, inbox: Path, pattern: str, receipts: Path, extra: str = "") -> str:
    return f"""
[channel]
name = "{name}"
[source]
type = "directory"
path = "{inbox}"
pattern = "{pattern}"
poll = "100ms"
receipts = "{receipts}"
{extra}
"""


def drop(folder: Path, name: str, raw: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(raw)
    past = time.time() - 5
    os.utime(folder / name, (past, past))


async def test_dis01_reaches_the_municipality_as_xdis01_and_the_receipts_travel_back(
    start_engine, tmp_path
):
    vans_in, gp_receipts = tmp_path / "vans" / "in", tmp_path / "vans" / "receipts"
    municipality = tmp_path / "municipality" / "in"
    our_receipts_in = tmp_path / "vans" / "receipts-from-partners"
    engine = await start_engine(
        {
            "gp-to-municipality": directory_channel(
                "gp-to-municipality",
                vans_in,
                "*.edi",
                gp_receipts,
                f"""
[[destination]]
name = "municipality"
type = "directory"
path = "{municipality}"
mapping = "medcom-edifact-to-oioxml"
filename = "{{{{ msg.control_id }}}}.xml"
""",
            ),
            "partner-receipts": directory_channel(
                "partner-receipts", our_receipts_in, "*.xml", tmp_path / "unused"
            ),
        },
        f'[api]\nlisten = "127.0.0.1:0"\n[queue]\npoll = "100ms"\n'
        f'[standards.medcom]\nschema_dir = "{SHARED / "medcom" / "xsd"}"\n',
    )
    drop(vans_in, "dis01.edi", LETTER.read_bytes())

    # the municipality receives the letter as a schema-valid XDIS01
    await eventually(lambda: len(list(municipality.glob("*.xml"))) == 1)
    [delivered] = municipality.glob("*.xml")
    letter = parse_xml(delivered.read_bytes())
    assert SchemaCatalogue(SHARED / "medcom" / "xsd").errors(letter) == []
    namespaces = {"m": letter.nsmap[None]}
    assert (
        letter.findtext("m:DischargeLetter/m:Letter/m:StatisticalCode", namespaces=namespaces)
        == "XDIS01"
    )
    assert (
        letter.findtext(
            "m:DischargeLetter/m:Patient/m:CivilRegistrationNumber", namespaces=namespaces
        )
        == "1203521234"
    )

    # the GP gets a positive receipt for its envelope
    await eventually(lambda: len(list(gp_receipts.glob("*"))) == 1)
    [receipt] = gp_receipts.glob("*")
    verdict = read_receipt(parse_edifact(receipt.read_bytes()))
    assert verdict is not None and verdict.kind == "CTL03" and verdict.positive
    assert verdict.refers_to == "K2611200001"

    # the municipality answers our XDIS01 with its own XCTL03: the delivery is acknowledged
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    answer = build_xctl03(letter, timestamp=datetime.datetime(2026, 11, 20, 9, 30))
    drop(our_receipts_in, "xctl03.xml", answer)
    await eventually(lambda: delivery_count(engine, "ACKNOWLEDGED") == 1)
    statuses = [row.status for row in message_rows(engine)]
    assert statuses == ["ROUTED", "FILTERED"]  # the letter, and the receipt (no destinations)
    assert not list((tmp_path / "unused").glob("*"))  # a receipt is never answered
