"""Every third-party HL7 v2 sample gets an answer; none crashes or stalls the listener."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SHARED, hl7, message_rows, mllp_in, to_directory

from engine.receipts.hl7_ack import parse_ack
from engine.simulators.mllp_client import MllpClient

SAMPLES = sorted((SHARED / "samples" / "hl7v2").rglob("*.hl7")) + sorted(
    (SHARED / "samples" / "hl7v2").rglob("*.er7")
)

CHANNEL = mllp_in("inbox", to_directory("archive", "out"))


def test_samples_are_there():
    assert len(SAMPLES) > 50, f"expected the shared HL7 v2 samples under {SHARED}"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
async def test_sample_gets_an_answer(start_engine, sample: Path):
    engine = await start_engine(CHANNEL)
    port = engine.listeners["inbox"].port
    raw = sample.read_bytes()

    async with MllpClient("127.0.0.1", port, timeout=10) as client:
        reply = await client.exchange(raw)
        # The listener is still in good shape: a normal message right after is accepted.
        follow_up = parse_ack(await client.exchange(hl7("AFTER-1")))

    assert follow_up[0] == "AA"
    stored = message_rows(engine)
    code, _, text = parse_ack(reply.split(b"\rMSH")[0])
    assert code in ("AA", "CA", "AE", "CE", "AR", "CR")
    if code in ("AE", "CE", "AR", "CR"):
        assert text, "a negative ACK must say why"
        assert any(row.status == "ERROR" and row.error for row in stored)
