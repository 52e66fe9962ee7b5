"""MLLP senders for the scale-out tests: they record every AA and count the answers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from conftest import eventually, hl7, start_engine_process, stop_process

from engine.receipts.hl7_ack import parse_ack
from engine.simulators.epj import EpjSimulator
from engine.simulators.mllp_client import MllpClient


async def send_counting(port: int, prefix: str, count: int, acked: list[str]) -> dict[str, int]:
    """Send `count` messages one by one; record each AA; count the other answers."""
    answers: dict[str, int] = {}
    async with MllpClient("127.0.0.1", port, timeout=30) as client:
        for i in range(count):
            control_id = f"{prefix}-{i:05d}"
            code, echoed, _ = parse_ack(await client.exchange(hl7(control_id)))
            answers[code] = answers.get(code, 0) + 1
            if code == "AA" and echoed == control_id:
                acked.append(control_id)
    return answers


async def keep_sending(
    port: int, prefix: str, stop: asyncio.Event, acked: list[str], answers: dict[str, int]
) -> None:
    """Send until told to stop or the connection breaks; an AR means "send again"."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError, TimeoutError):
        async with MllpClient("127.0.0.1", port, timeout=30) as client:
            for i in range(100_000):
                if stop.is_set():
                    return
                control_id = f"{prefix}-{i:05d}"
                code, echoed, _ = parse_ack(await client.exchange(hl7(control_id)))
                answers[code] = answers.get(code, 0) + 1
                if code == "AA" and echoed == control_id:
                    acked.append(control_id)


async def outage_mid_load(
    config: Path, port: int, epj: EpjSimulator, outage: Callable[[], None]
) -> dict[str, int]:
    """One engine process under load from three senders; `outage` runs mid-load (in a
    thread); the load goes on until 100 more are acknowledged. Every acknowledged message
    must arrive. Returns the senders' answer counts."""
    engine = await start_engine_process(config, port)
    acked: list[str] = []
    answers: dict[str, int] = {}
    stop = asyncio.Event()
    senders = [
        asyncio.create_task(keep_sending(port, f"C{c}", stop, acked, answers)) for c in range(3)
    ]
    try:
        await eventually(lambda: len(acked) >= 100, timeout=60)
        await asyncio.to_thread(outage)
        before = len(acked)
        await eventually(lambda: len(acked) >= before + 100, timeout=60)  # taking messages again
        stop.set()
        await asyncio.gather(*senders)
        await eventually(lambda: set(acked) <= set(epj.received), timeout=60)
    finally:
        stop.set()
        await stop_process(engine)
    return answers
