"""Retries and dead letters, against the EPJ simulator's injected faults."""

from __future__ import annotations

from conftest import delivery_count, eventually, hl7, mllp_in, to_mllp

from engine.simulators.epj import Faults
from engine.simulators.mllp_client import send_all
from engine.store.database import open_database
from engine.store.queries import message_detail


def channel(port: int, retry: str) -> dict[str, str]:
    return mllp_in("adt", to_mllp("epj", port, retry=retry))


async def test_transient_rejections_are_retried_until_accepted(start_engine, epj):
    epj.faults = Faults(fail_first=2)  # AR, AR, then AA
    engine = await start_engine(channel(epj.port, '{ initial = "50ms", max = "100ms" }'))
    await send_all("127.0.0.1", engine.listeners["adt"].port, [hl7("RETRY-1")])

    await epj.wait_for(1)
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    with engine.database.connect() as conn:
        [delivery] = message_detail(conn, 1)["deliveries"]
    outcomes = [a["outcome"] for a in delivery["attempt_log"]]
    assert outcomes == ["transient", "transient", "ok"]
    assert delivery["attempts"] == 3


async def test_poison_message_goes_dead_without_blocking_the_rest(start_engine, epj):
    epj.faults = Faults(reject_marker="POISON")  # AE: fatal
    engine = await start_engine(channel(epj.port, '{ initial = "50ms" }'))
    frames = [hl7("GOOD-1"), hl7("BAD-1", extra="^POISON"), hl7("GOOD-2"), hl7("GOOD-3")]
    await send_all("127.0.0.1", engine.listeners["adt"].port, frames)

    await epj.wait_for(3)
    await eventually(lambda: delivery_count(engine, "DEAD") == 1)
    assert set(epj.received) == {"GOOD-1", "GOOD-2", "GOOD-3"}
    with open_database(engine.config.store_url).connect() as conn:
        dead = message_detail(conn, 2)["deliveries"][0]
    assert dead["status"] == "DEAD"
    assert dead["attempts"] == 1  # fatal: no retries
    assert "AE" in dead["last_error"]


async def test_transient_failures_end_dead_after_max_attempts(start_engine, epj):
    epj.faults = Faults(fail_first=1000)  # always AR
    engine = await start_engine(
        channel(epj.port, '{ max_attempts = 3, initial = "20ms", max = "40ms" }')
    )
    await send_all("127.0.0.1", engine.listeners["adt"].port, [hl7("TRY-1")])

    await eventually(lambda: delivery_count(engine, "DEAD") == 1)
    with engine.database.connect() as conn:
        dead = message_detail(conn, 1)["deliveries"][0]
    assert dead["attempts"] == 3
    assert "max_attempts (3)" in dead["last_error"]
    assert [e["action"] for e in message_detail_audit(engine)][-1] == "DEAD"


def message_detail_audit(engine):
    with engine.database.connect() as conn:
        return message_detail(conn, 1)["audit"]
