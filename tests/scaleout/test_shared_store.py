"""Several processes on one store (the sql queue backend): a receiver and two workers on a
SQLite file (taking turns to write) or on PostgreSQL (claims with SKIP LOCKED), a worker
killed with SIGKILL mid-load; PostgreSQL restarted mid-load. Nothing acknowledged is
lost, duplicates are counted, and every process's audit rows form one intact chain."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable

import pytest
from conftest import (
    eventually,
    free_port,
    mllp_in,
    start_engine_process,
    stop_process,
    to_mllp,
    write_config,
)
from loadgen import outage_mid_load, send_counting
from sqlalchemy import Engine, func, select

from engine.store.audit import verify
from engine.store.database import open_database
from engine.store.schema import DeliveryStatus, deliveries

pytestmark = pytest.mark.slow

RETRY = '{ initial = "100ms", max = "500ms", jitter = 0 }'


def store_toml(url: str, lease: str = "2s") -> str:
    return f"""
[api]
enabled = false
[store]
url = "{url}"
[queue]
poll = "100ms"
lease = "{lease}"
"""


async def test_two_workers_share_the_store_and_a_killed_one_loses_nothing(tmp_path, epj, store_url):
    port, store = free_port(), open_database(store_url)
    channels = mllp_in("adt", to_mllp("epj", epj.port, retry=RETRY, batch="20"), port=port)
    config = write_config(tmp_path, channels, store_toml(store_url))
    receiver = await start_engine_process(config, port, role="receiver")
    workers = [await start_engine_process(config, None, role="worker") for _ in range(2)]
    acked: list[str] = []
    try:
        first = [  # several senders at once
            asyncio.create_task(send_counting(port, f"A{n}", 150, acked)) for n in range(4)
        ]
        await eventually(lambda: len(epj.received) >= 100, timeout=60)
        os.kill(workers[0].pid, signal.SIGKILL)  # mid-load: its claimed batch is in flight
        await workers[0].wait()
        await asyncio.gather(*first)
        await send_counting(port, "B", 200, acked)  # the survivor carries on alone

        assert len(acked) == 800
        await eventually(lambda: set(acked) <= set(epj.received), timeout=60)
        # A killed worker's claims come back when their lease runs out, so what it had
        # sent but not yet recorded goes out again: at most one claimed batch.
        assert epj.duplicates <= 20, f"{epj.duplicates} duplicates"
        await eventually(lambda: sent(store) == len(acked), timeout=60)
    finally:
        for process in (receiver, *workers):
            await stop_process(process)
    with store.connect() as conn:
        checked = verify(conn)
    assert checked.problem is None, checked.problem
    assert checked.checked >= 3 * len(acked)  # received, routed and sent, at least


def sent(store: Engine) -> int:
    """Deliveries the store has recorded as sent."""
    with store.connect() as conn:
        query = select(func.count()).where(deliveries.c.status == DeliveryStatus.SENT)
        return int(conn.execute(query).scalar_one())


def crash_and_restart(postgres) -> Callable[[], None]:
    def outage() -> None:
        postgres.stop("immediate")  # as if the database crashed
        time.sleep(1.0)
        postgres.start()

    return outage


async def test_a_database_restart_mid_load_loses_nothing_acknowledged(
    tmp_path, epj, postgres, postgres_url
):
    port = free_port()
    channels = mllp_in("adt", to_mllp("epj", epj.port, retry=RETRY, batch="20"), port=port)
    config = write_config(tmp_path, channels, store_toml(postgres_url))
    answers = await outage_mid_load(config, port, epj, crash_and_restart(postgres))
    assert answers.get("AR", 0) > 0, "the outage was not noticed by the senders"
    # Sent but not yet recorded when the database went: sent again after the lease.
    # At most the batch in flight and the one being recorded.
    assert epj.duplicates <= 40, f"{epj.duplicates} duplicates"
