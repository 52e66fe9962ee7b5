"""1,000 messages over 10 concurrent MLLP connections: every one ACKed AA and delivered."""

from __future__ import annotations

import asyncio

from conftest import delivery_count, eventually, hl7, mllp_in, to_mllp

from engine.receipts.hl7_ack import parse_ack
from engine.simulators.mllp_client import send_all


async def test_thousand_messages_over_ten_connections(start_engine, epj):
    engine = await start_engine(mllp_in("adt", to_mllp("epj", epj.port)))
    port = engine.listeners["adt"].port
    batches = [[hl7(f"C{conn:02d}-{i:03d}") for i in range(100)] for conn in range(10)]

    replies = await asyncio.gather(*(send_all("127.0.0.1", port, b) for b in batches))

    acks = [parse_ack(reply) for batch in replies for reply in batch]
    sent_ids = [f"C{conn:02d}-{i:03d}" for conn in range(10) for i in range(100)]
    assert [code for code, _, _ in acks] == ["AA"] * 1000
    assert [control_id for _, control_id, _ in acks] == sent_ids
    await epj.wait_for(1000)
    assert set(epj.received) == set(sent_ids)
    assert epj.duplicates == 0
    await eventually(lambda: delivery_count(engine, "SENT") == 1000)
