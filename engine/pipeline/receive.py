"""The one way in: every source hands raw bytes here and gets receipts back.

Parse, route (filters and mappings, in memory), then commit the message together with
its queued deliveries. A receipt exists only after that commit, so a source can never
acknowledge what the store does not hold.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from engine.formats.sniff import Parsed, parse_messages
from engine.metrics import observe_received, observe_settled
from engine.pipeline.items import Incoming, queued_again
from engine.pipeline.router import Router
from engine.receipts.medcom import read_receipt
from engine.store.batches import Stored
from engine.store.medcom import MEDCOM_FORMATS
from engine.store.schema import MessageStatus
from engine.store.writer import Writer

# After the commit and before any acknowledgement: make the new deliveries known
Announce = Callable[[list[tuple[str, str, int]]], Awaitable[None]]


@dataclass(slots=True)
class Receipt:
    message_id: int
    parsed: Parsed
    error: str | None  # why the message is ERROR (parse or mapping), None if accepted
    received_at: float = 0.0
    duplicate_of: int | None = None  # MedCom: answered as the earlier message was

    @property
    def accepted(self) -> bool:
        return self.error is None


class Receiver:
    def __init__(self, writer: Writer, router: Router, announce: Announce):
        self._writer = writer
        self._router = router
        self._announce = announce  # (channel, destination, delivery id) are queued

    async def receive(self, channel: str, raw: bytes, origin: str) -> list[Receipt]:
        """Parse, route, commit (raises StoreUnavailable if the store cannot)."""
        now = time.time()
        parsed = parse_messages(raw)
        incoming = [
            self._routed(Incoming(channel, p.raw, p.meta, origin, now, p.error, p.parsed))
            for p in parsed
        ]
        for item, p in zip(incoming, parsed, strict=True):
            if item.error is None and p.meta.format in MEDCOM_FORMATS:
                item.acknowledges = read_receipt(p)
        stored: list[Stored] = await self._writer.submit_many("receive", incoming)
        observe_received(self._writer, channel, incoming)
        settled = [each for item in incoming for each in item.settled]
        observe_settled(self._writer, settled)
        await self._announce(
            [
                (channel, delivery.destination, delivery_id)
                for item, s in zip(incoming, stored, strict=True)
                if item.route is not None and s.delivery_ids
                for delivery, delivery_id in zip(item.route.deliveries, s.delivery_ids, strict=True)
            ]
            + queued_again(settled)  # a partner's receipt asked for the letter again
        )
        return [
            Receipt(s.message_id, p, i.error, s.first_received_at or now, s.duplicate_of)
            for s, p, i in zip(stored, parsed, incoming, strict=True)
        ]

    def _routed(self, incoming: Incoming) -> Incoming:
        if incoming.error is None:
            incoming.route = self._router.route(incoming)
            if incoming.route.status == MessageStatus.ERROR:
                incoming.error = incoming.route.detail
        return incoming
