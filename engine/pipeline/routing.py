"""The routing stage: committed messages in, deliveries queued, workers woken."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from sqlalchemy import Engine

from engine.formats.sniff import parse_messages
from engine.pipeline.items import Committed, Incoming
from engine.pipeline.router import Router
from engine.store.queries import unrouted_messages
from engine.store.writer import StoreUnavailable, Writer

log = structlog.get_logger("kanal.routing")

BATCH = 500


class RoutingStage:
    def __init__(
        self,
        router: Router,
        writer: Writer,
        notify: Callable[[str, str], None],
    ):
        self.queue: asyncio.Queue[Committed] = asyncio.Queue()
        self._router = router
        self._writer = writer
        self._notify = notify  # (channel, destination) has new work

    async def run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            await self._route(batch)

    async def _route(self, batch: list[Committed]) -> None:
        routes = [self._router.route(message) for message in batch]
        while True:
            try:
                await self._writer.submit_many("route", routes)
                break
            except StoreUnavailable:
                await asyncio.sleep(1.0)  # committed messages wait; nothing is lost
        woken = {(r.channel, d.destination) for r in routes for d in r.deliveries}
        for channel, destination in woken:
            self._notify(channel, destination)

    async def resume(self, database: Engine) -> int:
        """Queue messages that were committed before a stop but never routed."""
        after, resumed = 0, 0
        while True:
            rows = await asyncio.to_thread(_fetch, database, after)
            if not rows:
                return resumed
            for row in rows:
                parsed = parse_messages(row.data)[0]
                incoming = Incoming(row.channel, row.data, parsed.meta, row.origin,
                                    row.received_at, parsed.error, parsed.parsed)
                self.queue.put_nowait(Committed(row.id, incoming))
            after, resumed = rows[-1].id, resumed + len(rows)
            log.info("routing.resumed", messages=resumed)


def _fetch(database: Engine, after: int) -> list[object]:
    with database.connect() as conn:
        return unrouted_messages(conn, after, 5000)  # type: ignore[return-value]
