"""MedCom reliable messaging outbound: a letter whose receipt does not come in time is
sent again in a new envelope, at most `resends` times, then DEAD; a receipt naming the
new envelope acknowledges it."""

from __future__ import annotations

import asyncio
import datetime
import os
import time
from pathlib import Path

from conftest import SHARED, delivery_count, eventually
from sqlalchemy import select

from engine.formats.edifact import parse_edifact
from engine.metrics import metrics_of
from engine.receipts.medcom import build_ctl03
from engine.store.audit import seal
from engine.store.queries import message_detail
from engine.store.reliable import overdue, send_again
from engine.store.schema import contents

LETTER = SHARED / "medcom" / "edifact_negative" / "PRE60_ok.edi"  # asks for a receipt


def channels(tmp_path: Path, wait: str, suffix: str = "edi") -> dict[str, str]:
    """Letters from `in` to the GP, who must send a receipt within `wait`; receipts come
    into `receipts`. `suffix`: the files' (edi: EDIFACT, json: FHIR)."""
    return {
        "to-gp": f"""
[channel]
name = "to-gp"
[source]
type = "directory"
path = "{tmp_path / "in"}"
pattern = "*.{suffix}"
poll = "100ms"
[[destination]]
name = "gp"
type = "directory"
path = "{tmp_path / "gp"}"
filename = "letter.{suffix}"
receipt = {{ wait = "{wait}", resends = 2 }}
""",
        "receipts-in": f"""
[channel]
name = "receipts-in"
[source]
type = "directory"
path = "{tmp_path / "receipts"}"
pattern = "*.{suffix}"
poll = "100ms"
""",
    }


def settled(engine, outcome: str) -> float:
    """kanal_deliveries_settled_total for the letter's destination."""
    labels = {"channel": "to-gp", "destination": "gp", "outcome": outcome}
    found = metrics_of(engine.writer).registry.get_sample_value(
        "kanal_deliveries_settled_total", labels
    )
    return found or 0.0


def drop(folder: Path, name: str, raw: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(raw)
    past = time.time() - 5
    os.utime(folder / name, (past, past))


def envelope_of(raw: bytes) -> str:
    interchange = parse_edifact(raw)
    return interchange.value(interchange.first("UNB"), 4)


async def test_without_a_receipt_the_letter_goes_again_in_new_envelopes_then_dead(
    start_engine, tmp_path
):
    engine = await start_engine(channels(tmp_path, "400ms"))
    drop(tmp_path / "in", "pre60.edi", LETTER.read_bytes())
    await eventually(lambda: delivery_count(engine, "DEAD") == 1, timeout=30)
    with engine.database.connect() as conn:
        detail = message_detail(conn, 1)
    [delivery] = detail["deliveries"]
    assert "no receipt after 3 sends" in delivery["last_error"]
    assert [a["outcome"] for a in delivery["attempt_log"]] == ["ok", "ok", "ok"]
    resends = [e for e in detail["audit"] if e["action"] == "RESEND"]
    assert len(resends) == 2
    envelopes = {e["detail"].rsplit(" ", 1)[-1] for e in resends}
    assert len(envelopes) == 2 and envelope_of(LETTER.read_bytes()) not in envelopes
    # what the GP has now is the letter in the last new envelope, otherwise unchanged
    sent = (tmp_path / "gp" / "letter.edi").read_bytes()
    assert envelope_of(sent) in envelopes
    assert parse_edifact(sent).segments[1:-1] == parse_edifact(LETTER.read_bytes()).segments[1:-1]
    await eventually(lambda: settled(engine, "DEAD") == 1)  # counted as it happened
    assert settled(engine, "QUEUED") == 2


async def test_on_the_rabbitmq_backend_the_letter_goes_again_without_waiting_for_the_sweep(
    start_engine, tmp_path, rabbitmq
):
    """A resend is announced like any new work: a notice, not the sweep a minute later."""
    queue = f'[api]\nenabled = false\n[queue]\nbackend = "rabbitmq"\nurl = "{rabbitmq.url}"\n'
    # the worker acks a notice within `poll`, long before the wait ends: no notice is left
    engine = await start_engine(channels(tmp_path, "1s"), queue + 'poll = "100ms"\n')
    drop(tmp_path / "in", "pre60.edi", LETTER.read_bytes())
    await eventually(lambda: delivery_count(engine, "DEAD") == 1, timeout=30)
    with engine.database.connect() as conn:
        [delivery] = message_detail(conn, 1)["deliveries"]
    assert [a["outcome"] for a in delivery["attempt_log"]] == ["ok", "ok", "ok"]


async def test_a_receipt_for_the_new_envelope_acknowledges_the_delivery(start_engine, tmp_path):
    engine = await start_engine(channels(tmp_path, "600ms"))
    original = envelope_of(LETTER.read_bytes())
    drop(tmp_path / "in", "pre60.edi", LETTER.read_bytes())
    gp_copy = tmp_path / "gp" / "letter.edi"
    await eventually(lambda: gp_copy.exists() and envelope_of(gp_copy.read_bytes()) != original)
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    resent = gp_copy.read_bytes()
    receipt = build_ctl03(parse_edifact(resent), timestamp=datetime.datetime(2026, 11, 22, 10, 0))
    drop(tmp_path / "receipts", "ctl03.edi", receipt)
    await eventually(lambda: delivery_count(engine, "ACKNOWLEDGED") == 1)
    await asyncio.sleep(1.5)  # past the wait again: an acknowledged delivery is not sent again
    assert delivery_count(engine, "ACKNOWLEDGED") == 1
    assert settled(engine, "ACKNOWLEDGED") == 1 and settled(engine, "QUEUED") == 1
    assert envelope_of(gp_copy.read_bytes()) == envelope_of(resent)


async def test_two_watchers_resend_an_overdue_letter_once(start_engine, tmp_path):
    """Every worker process watches receipts: both may read the same overdue letter, but
    only the first moves it; the second writes no envelope and no audit event."""
    engine = await start_engine(channels(tmp_path, "1h"))
    drop(tmp_path / "in", "pre60.edi", LETTER.read_bytes())
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    with engine.database.connect() as conn:
        [item] = overdue(conn, "to-gp", "gp", time.time() + 1)
    outcomes = []
    for envelope in ("FIRST", "SECOND"):  # each as if read before the other wrote
        with engine.database.begin() as conn:
            outcomes.append(send_again(conn, item, b"again", envelope, time.time(), "test"))
            seal(conn)
    assert outcomes == [True, False]
    with engine.database.connect() as conn:
        detail = message_detail(conn, 1)
        stages = conn.execute(
            select(contents.c.data).where(contents.c.stage == "transformed")
        ).scalars()
        assert list(stages).count(b"again") == 1
    assert [e["action"] for e in detail["audit"]].count("RESEND") == 1
    assert detail["deliveries"][0]["correlation_id"] == "FIRST"
