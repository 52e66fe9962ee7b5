"""A simulator in its own process, for benchmarks: print the port as one JSON line, run
until SIGTERM or SIGINT, then print what was received ({"received", "duplicates"})."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from typing import Protocol


class Simulator(Protocol):
    port: int
    received: Counter[str]  # message id → times taken

    @property
    def duplicates(self) -> int: ...

    async def stop(self) -> None: ...


async def serve_until_stopped(simulator: Simulator) -> None:
    """`simulator` has started; report its port, wait for a signal, stop and report."""
    print(json.dumps({"listening": simulator.port}), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await simulator.stop()
    report = {"received": len(simulator.received), "duplicates": simulator.duplicates}
    print(json.dumps(report), flush=True)
