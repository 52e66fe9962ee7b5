"""`kanal run` is SIGKILLed mid-load twenty times and restarted each time: every message
that got an AA reaches the EPJ, and the duplicates there stay within one claimed batch
per kill (what was sent but whose outcome was not yet committed goes out again)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import signal

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
from scaleout.loadgen import keep_sending

pytestmark = pytest.mark.slow

ROUNDS = 20
SENDERS = 4
BATCH = 50  # deliveries claimed at a time: the most a kill can leave sent but unrecorded


async def test_twenty_sigkills_mid_load_lose_nothing_acknowledged(tmp_path, epj):
    port = free_port()
    config = write_config(
        tmp_path,
        mllp_in(
            "adt",
            to_mllp(
                "epj", epj.port, batch=str(BATCH), retry='{ initial = "100ms", max = "500ms" }'
            ),
            port=port,
        ),
        '[api]\nenabled = false\n[queue]\npoll = "100ms"\n',
    )
    acked: list[str] = []
    answers: dict[str, int] = {}
    duplicates_at_kill: list[int] = []
    chance = random.Random(20)  # kill moments vary, reproducibly

    for round_number in range(ROUNDS):
        process = await start_engine_process(config, port)
        stop = asyncio.Event()
        wanted = len(acked) + 20  # under load before the kill
        senders = [
            asyncio.create_task(
                keep_sending(port, f"R{round_number:02d}C{c}", stop, acked, answers)
            )
            for c in range(SENDERS)
        ]
        try:
            await eventually(lambda n=wanted: len(acked) >= n, timeout=30)
            await asyncio.sleep(chance.uniform(0.05, 0.6))
        finally:
            os.kill(process.pid, signal.SIGKILL)
            await process.wait()
            stop.set()
            await asyncio.gather(*senders)
        duplicates_at_kill.append(epj.duplicates)

    process = await start_engine_process(config, port)
    try:
        with contextlib.suppress(TimeoutError):
            await eventually(lambda: set(acked) <= set(epj.received), timeout=60)
        missing = set(acked) - set(epj.received)
        assert not missing, f"{len(missing)} acknowledged messages were never delivered"
        await asyncio.sleep(1.0)  # anything still to be resent arrives
    finally:
        await stop_process(process)
    assert process.returncode == 0, "the engine did not stop cleanly on SIGTERM"

    # Duplicates that showed up in each engine run come from the kill before it.
    totals = [*duplicates_at_kill, epj.duplicates]
    per_kill = [later - earlier for earlier, later in itertools.pairwise(totals)]
    print(
        f"\n{ROUNDS} kills: {len(acked)} acknowledged ({answers}), {len(epj.received)} at the "
        f"EPJ, {epj.duplicates} duplicates; per kill {per_kill} (max {max(per_kill)})"
    )
    assert len(acked) > ROUNDS * 20
    assert epj.duplicates <= ROUNDS * BATCH, "more duplicates than one batch per kill"
    assert max(per_kill) <= BATCH, "one kill re-sent more than a claimed batch"
