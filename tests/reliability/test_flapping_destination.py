"""The EPJ goes down and up every half second for ten seconds while 500 messages flow: once
it settles each is delivered exactly once, none is DEAD, and the outages used up no
message's attempts."""

from __future__ import annotations

import asyncio

import pytest
from conftest import delivery_count, eventually, hl7, mllp_in, to_mllp
from sqlalchemy import func, select

from engine.receipts.hl7_ack import parse_ack
from engine.simulators.mllp_client import MllpClient
from engine.store.schema import deliveries

pytestmark = pytest.mark.slow

MESSAGES, SENDERS = 500, 5


async def send_paced(port: int, prefix: str, count: int, pause: float) -> list[str]:
    """Send `count` messages one at a time, `pause` apart; the control ids that got AA."""
    acked = []
    async with MllpClient("127.0.0.1", port, timeout=10) as client:
        for i in range(count):
            control_id = f"{prefix}-{i:03d}"
            code, echoed, _ = parse_ack(await client.exchange(hl7(control_id)))
            if code == "AA" and echoed == control_id:
                acked.append(control_id)
            await asyncio.sleep(pause)
    return acked


async def flap(epj, period: float, duration: float) -> int:
    """Down for `period`, up for `period`, for `duration` seconds; the number of outages."""
    outages = 0
    loop = asyncio.get_running_loop()
    end = loop.time() + duration
    while loop.time() < end:
        await epj.stop()
        outages += 1
        await asyncio.sleep(period)
        await epj.start()
        await asyncio.sleep(period)
    return outages


async def test_flapping_epj_gets_each_message_exactly_once(start_engine, epj):
    max_attempts = 3  # an outage that counted would soon kill messages
    engine = await start_engine(
        mllp_in(
            "adt",
            to_mllp(
                "epj",
                epj.port,
                retry=f'{{ max_attempts = {max_attempts}, initial = "100ms", max = "500ms" }}',
            ),
        )
    )
    port = engine.listeners["adt"].port
    per_sender = MESSAGES // SENDERS
    flapping = asyncio.create_task(flap(epj, period=0.5, duration=10.0))
    sent = await asyncio.gather(
        *(send_paced(port, f"FLAP{c}", per_sender, pause=10.0 / per_sender) for c in range(SENDERS))
    )
    outages = await flapping
    acked = [control_id for ids in sent for control_id in ids]
    assert len(acked) == MESSAGES

    await eventually(lambda: delivery_count(engine, "SENT", "epj") == MESSAGES, timeout=30)
    assert set(epj.received) == set(acked)
    assert epj.duplicates == 0
    assert delivery_count(engine, "DEAD", "epj") == 0
    with engine.database.connect() as conn:
        most = conn.execute(select(func.max(deliveries.c.attempts))).scalar_one()
        counted = conn.execute(
            select(func.count()).where(deliveries.c.attempts > 1).select_from(deliveries)
        ).scalar_one()
    print(
        f"\n{outages} outages, {MESSAGES} delivered once; deliveries with a counted retry: "
        f"{counted}, most attempts counted: {most}"
    )
    assert most < max_attempts


async def test_a_connection_the_partner_dropped_costs_no_attempt(start_engine, epj):
    engine = await start_engine(mllp_in("adt", to_mllp("epj", epj.port)))
    port = engine.listeners["adt"].port
    assert await send_paced(port, "IDLE", 1, pause=0) == ["IDLE-000"]
    await epj.wait_for(1)
    await epj.stop()  # drops the engine's idle connection...
    await epj.start()  # ...and is back before the next message
    await asyncio.sleep(0.2)
    assert await send_paced(port, "AFTER", 1, pause=0) == ["AFTER-000"]
    await eventually(lambda: delivery_count(engine, "SENT", "epj") == 2)
    with engine.database.connect() as conn:
        assert conn.execute(select(func.max(deliveries.c.attempts))).scalar_one() == 1
