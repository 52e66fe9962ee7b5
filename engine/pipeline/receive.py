"""The one way in: every source hands raw bytes here and gets receipts back.

A receipt exists only after the message is committed, so a source can never
acknowledge what the store does not hold.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from engine.formats.sniff import Parsed, parse_messages
from engine.pipeline.items import Committed, Incoming
from engine.store.writer import Writer


@dataclass(slots=True)
class Receipt:
    message_id: int
    parsed: Parsed

    @property
    def accepted(self) -> bool:
        return self.parsed.error is None


class Receiver:
    def __init__(self, writer: Writer, routing: asyncio.Queue[Committed]):
        self._writer = writer
        self._routing = routing

    async def receive(self, channel: str, raw: bytes, origin: str) -> list[Receipt]:
        """Parse, commit (raises StoreUnavailable if the store cannot), queue for routing."""
        now = time.time()
        parsed = parse_messages(raw)
        incoming = [
            Incoming(channel, p.raw, p.meta, origin, now, p.error, p.parsed) for p in parsed
        ]
        committed: list[Committed] = await self._writer.submit_many("ingest", incoming)
        for message in committed:
            if message.incoming.error is None:
                self._routing.put_nowait(message)
        return [Receipt(c.id, p) for c, p in zip(committed, parsed, strict=True)]
