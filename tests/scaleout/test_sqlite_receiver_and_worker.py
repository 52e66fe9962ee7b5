"""A receiver and a worker process on one SQLite file (the two-core set-up of one
machine): many senders at once, the worker SIGKILLed mid-load and started again. Every
acknowledged message is delivered, duplicates stay within one claimed batch, and both
processes' audit rows form one intact chain."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from pathlib import Path

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
from loadgen import send_counting
from test_postgres_scaleout import RETRY, store_toml

from engine.store.audit import verify
from engine.store.database import open_database

pytestmark = pytest.mark.slow

SENDERS = 8


def sent(database: Path) -> int:
    """Deliveries the store has recorded as sent."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return int(
            conn.execute("SELECT count(*) FROM deliveries WHERE status = 'SENT'").fetchone()[0]
        )


async def test_a_receiver_and_a_worker_share_a_sqlite_store(tmp_path, epj):
    port, database = free_port(), tmp_path / "store.db"
    channels = mllp_in("adt", to_mllp("epj", epj.port, retry=RETRY, batch="20"), port=port)
    config = write_config(tmp_path, channels, store_toml(f"sqlite:///{database}"))
    receiver = await start_engine_process(config, port, role="receiver")
    worker = await start_engine_process(config, None, role="worker")
    acked: list[str] = []
    try:
        senders = [
            asyncio.create_task(send_counting(port, f"S{n}", 150, acked)) for n in range(SENDERS)
        ]
        await eventually(lambda: len(epj.received) >= 200, timeout=60)
        os.kill(worker.pid, signal.SIGKILL)  # mid-load: its claimed batch is in flight
        await worker.wait()
        worker = await start_engine_process(config, None, role="worker")
        answers = await asyncio.gather(*senders)

        assert len(acked) == SENDERS * 150, answers
        await eventually(lambda: set(acked) <= set(epj.received), timeout=60)
        # The killed worker's claims come back when their lease runs out (2 s here), so
        # what it had sent but not yet recorded goes out again: at most one batch.
        await eventually(lambda: sent(database) == len(acked), timeout=60)
        assert epj.duplicates <= 20, f"{epj.duplicates} duplicates"
    finally:
        for process in (receiver, worker):
            await stop_process(process)
    with open_database(f"sqlite:///{database}").connect() as conn:
        checked = verify(conn)
    assert checked.problem is None, checked.problem
    assert checked.checked >= 3 * len(acked)  # received, routed and sent, at least
