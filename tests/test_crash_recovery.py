"""The engine is killed with SIGKILL mid-load and restarted: no acknowledged message is lost."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import pytest
from conftest import (
    eventually,
    free_port,
    hl7,
    mllp_in,
    start_engine_process,
    to_mllp,
    write_config,
)

from engine.receipts.hl7_ack import parse_ack
from engine.simulators.mllp_client import MllpClient

pytestmark = pytest.mark.slow


async def sender(port: int, prefix: str, acked: list[str], stop: asyncio.Event) -> None:
    """Send until the connection breaks or we are told to stop; record every AA."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError, TimeoutError):
        async with MllpClient("127.0.0.1", port, timeout=10) as client:
            for i in range(100_000):
                if stop.is_set():
                    return
                control_id = f"{prefix}-{i:05d}"
                code, echoed, _ = parse_ack(await client.exchange(hl7(control_id)))
                if code == "AA" and echoed == control_id:
                    acked.append(control_id)


async def test_sigkill_mid_load_loses_nothing_acknowledged(tmp_path, epj):
    port = free_port()
    config = write_config(
        tmp_path,
        mllp_in(
            "adt", to_mllp("epj", epj.port, retry='{ initial = "100ms", max = "500ms" }'), port=port
        ),
        '[api]\nenabled = false\n[queue]\npoll = "100ms"\n',
    )
    acked: list[str] = []

    for round_number in range(3):
        process = await start_engine_process(config, port)
        stop = asyncio.Event()
        senders = [
            asyncio.create_task(sender(port, f"R{round_number}C{c}", acked, stop)) for c in range(4)
        ]
        await asyncio.sleep(1.0)  # mid-load
        os.kill(process.pid, signal.SIGKILL)
        await process.wait()
        stop.set()
        await asyncio.gather(*senders)

    process = await start_engine_process(config, port)
    try:
        assert len(acked) > 100, "the load did not get going before the kill"
        with contextlib.suppress(TimeoutError):
            await eventually(lambda: set(acked) <= set(epj.received), timeout=60)
        missing = set(acked) - set(epj.received)
        assert not missing, f"{len(missing)} acknowledged messages were never delivered"
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)
    assert process.returncode == 0, "the engine did not stop cleanly on SIGTERM"
