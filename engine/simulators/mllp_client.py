"""A small MLLP client, as a source system would use it (demo, tests, benchmarks)."""

from __future__ import annotations

import asyncio
import ssl
from types import TracebackType

from hl7.mllp import open_hl7_connection


class MllpClient:
    """One persistent connection; `exchange` sends a frame and waits for the reply."""

    def __init__(
        self, host: str, port: int, timeout: float = 30.0, tls: ssl.SSLContext | None = None
    ):
        self.host, self.port, self.timeout, self.tls = host, port, timeout, tls
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> MllpClient:
        self._reader, self._writer = await open_hl7_connection(
            self.host, self.port, limit=16 * 1024 * 1024, ssl=self.tls
        )
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._writer is not None:
            self._writer.close()

    async def exchange(self, frame: bytes) -> bytes:
        assert self._reader is not None and self._writer is not None, "use `async with`"
        self._writer.writeblock(frame)  # type: ignore[attr-defined]
        await self._writer.drain()
        async with asyncio.timeout(self.timeout):
            reply = await self._reader.readblock()  # type: ignore[attr-defined]
        return bytes(reply)


async def send_all(host: str, port: int, frames: list[bytes]) -> list[bytes]:
    """Send frames one after another on one connection; the replies in order."""
    async with MllpClient(host, port) as client:
        return [await client.exchange(frame) for frame in frames]
