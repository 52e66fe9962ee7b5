"""EPJ (hospital EHR) simulator: an MLLP server that answers HL7 ACKs.

Fault injection for tests and the demo (faults.py): answer AR to the first N messages or for
T seconds, AE to messages containing a marker (or to all), delay every answer, or be down
(`stop()`: not listening).
It counts what it received by MSH-10 so duplicates are visible.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hl7.mllp import start_hl7_server

from engine.formats.hl7v2 import HL7Error, parse
from engine.receipts.hl7_ack import build_ack
from engine.simulators.faults import Faults, FaultState
from engine.simulators.standalone import serve_until_stopped

__all__ = ["EpjSimulator", "Faults"]


@dataclass
class EpjSimulator:
    host: str = "127.0.0.1"
    port: int = 0
    faults: Faults = field(default_factory=Faults)
    received: Counter[str] = field(default_factory=Counter)  # MSH-10 → times accepted
    messages: list[bytes] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # monotonic time of each acceptance
    _server: Any = None
    _state: FaultState = field(default_factory=FaultState)
    _connections: set[Any] = field(default_factory=set)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> EpjSimulator:
        self._server = await start_hl7_server(self._serve, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        self._state.arm(self.faults)
        return self

    async def stop(self) -> None:
        """Go down: stop listening and drop open connections."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.received.values() if count > 1)

    async def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """Until `count` distinct messages have been accepted."""
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def _serve(self, reader: Any, writer: Any) -> None:
        self._connections.add(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                frame = bytes(await reader.readblock())
                if self.faults.delay:
                    await asyncio.sleep(self.faults.delay)
                writer.writeblock(self._answer(frame))
                await writer.drain()
        self._connections.discard(writer)
        writer.close()

    def _answer(self, frame: bytes) -> bytes:
        try:
            message = parse(frame)
        except HL7Error as exc:
            return build_ack(frame, "AE", exc.reason, exc.code)
        decision = self._state.decide(self.faults, message.text)
        if decision in ("down", "transient"):
            return build_ack(message, "AR", "EPJ temporarily unavailable", "207")
        if decision == "fatal":
            return build_ack(message, "AE", "EPJ rejected the message", "207")
        self.received[message.get("MSH-10")] += 1
        self.messages.append(frame)
        self.arrivals.append(time.monotonic())
        self._arrived.set()
        return build_ack(message, "AA")


async def serve(host: str, port: int, faults: Faults) -> None:
    """Run until SIGTERM/SIGINT, then print what was received as one JSON line."""
    await serve_until_stopped(await EpjSimulator(host, port, faults).start())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="EPJ simulator: an MLLP server answering ACKs")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2576)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--reject-marker", default="")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(
        serve(args.host, args.port, Faults(args.fail_first, args.reject_marker, args.delay))
    )
