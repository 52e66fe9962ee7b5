"""A destination that is down for a while: the other keeps receiving; after recovery every
queued message is delivered exactly once, and none burned its attempts on the outage."""

from __future__ import annotations

import asyncio

from conftest import delivery_count, eventually, hl7, mllp_in, to_directory, to_mllp

from engine.simulators.mllp_client import send_all


async def test_outage_then_recovery(start_engine, epj, tmp_path):
    await epj.stop()  # EPJ is down before the first message arrives
    engine = await start_engine(
        mllp_in(
            "adt",
            to_mllp(
                "epj", epj.port, retry='{ max_attempts = 3, initial = "100ms", max = "300ms" }'
            ),
            to_directory("archive", tmp_path / "archive"),
        )
    )
    ids = [f"OUT-{i:03d}" for i in range(50)]
    await send_all("127.0.0.1", engine.listeners["adt"].port, [hl7(i) for i in ids])

    # The archive keeps receiving while the EPJ is down.
    await eventually(lambda: len(list((tmp_path / "archive").glob("*"))) == 50)
    assert delivery_count(engine, "SENT", "epj") == 0
    await asyncio.sleep(1.5)  # several retry periods: an outage must not kill messages
    assert delivery_count(engine, "DEAD", "epj") == 0
    assert not engine.workers[("adt", "epj")].healthy

    await epj.start()
    await epj.wait_for(50)
    await eventually(lambda: delivery_count(engine, "SENT", "epj") == 50)
    assert set(epj.received) == set(ids)
    assert epj.duplicates == 0
    assert engine.workers[("adt", "epj")].healthy
