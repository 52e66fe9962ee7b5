"""MLLP senders for the scale-out tests: they record every AA and count the answers."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from conftest import hl7

from engine.receipts.hl7_ack import parse_ack
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


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)


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
