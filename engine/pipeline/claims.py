"""Where a destination worker gets its work: the store (sql backend) or notices from
RabbitMQ (rabbitmq backend). Either way the store's claim decides who sends what."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from typing import Protocol

from sqlalchemy import Engine as Database
from sqlalchemy.exc import SQLAlchemyError

from engine.pipeline.items import Claimed, ClaimRequest
from engine.queue.consumer import NoticeConsumer, Received
from engine.queue.publisher import NoticePublisher
from engine.queue.rebuild import notices_for
from engine.store.writer import StoreUnavailable, Writer


class ClaimSource(Protocol):
    async def claim(self) -> list[Claimed]:
        """The next deliveries to send (may be empty)."""
        ...

    async def finished(self) -> None:
        """Every outcome but the newest claim's is in the store."""
        ...

    async def idle(self) -> None:
        """Nothing was claimed: wait before asking again."""
        ...

    def notify(self) -> None: ...

    async def close(self) -> None: ...


class StoreClaims:
    """Claim due deliveries straight from the store; idle until notified or `poll`."""

    def __init__(self, writer: Writer, request: ClaimRequest, poll: float):
        self._writer, self._request, self._poll = writer, request, poll
        self._wake = asyncio.Event()

    async def claim(self) -> list[Claimed]:
        self._wake.clear()
        claimed: list[Claimed] = await self._writer.submit("claim", self._request)
        return claimed

    async def finished(self) -> None:
        return None

    async def idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll):
                await self._wake.wait()

    def notify(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        return None


class NoticeClaims:
    """Claim the deliveries that notices name. Once their outcomes are stored, a notice
    whose delivery is still open is published again (delayed until it is due), then acked.
    Every `sweep` seconds, deliveries overdue by `sweep` are claimed from the store
    directly: their notice was lost with the broker's data."""

    def __init__(
        self,
        writer: Writer,
        database: Database,
        request: ClaimRequest,
        consumer: NoticeConsumer,
        publisher: NoticePublisher,
        poll: float,
        sweep: float,
    ):
        self._writer, self._database = writer, database
        self._request, self._poll = request, poll
        self._consumer, self._publisher = consumer, publisher
        self._sweep = sweep
        self._last_sweep = time.monotonic()
        self._batches: list[list[Received]] = []

    async def claim(self) -> list[Claimed]:
        notices = await self._consumer.take(self._request.limit, self._poll)
        self._batches.append(notices)  # even none: what came before it can be settled
        claimed: list[Claimed] = []
        if notices:
            ids = tuple(dict.fromkeys(n.delivery_id for n in notices))
            claimed += await self._writer.submit("claim", replace(self._request, ids=ids))
        # on its own clock: steady traffic must not keep a lost notice's delivery waiting
        if time.monotonic() - self._last_sweep >= self._sweep:
            self._last_sweep = time.monotonic()
            claimed += await self._writer.submit("claim", replace(self._request, grace=self._sweep))
        return claimed

    async def finished(self) -> None:
        done, self._batches = self._batches[:-1], self._batches[-1:]
        for index, notices in enumerate(done):
            try:
                if notices:
                    await self._settle(notices)
            except StoreUnavailable:
                self._batches[:0] = done[index:]  # settled next time; still unacked till then
                raise

    async def _settle(self, notices: list[Received]) -> None:
        ids = list(dict.fromkeys(n.delivery_id for n in notices))
        try:  # finished deliveries need no notice: their notice has done its job
            again = await asyncio.to_thread(notices_for, self._database, ids)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"cannot read the deliveries' states: {exc}") from exc
        await self._publisher.publish(again)  # confirmed before the old notices go
        self._consumer.ack(notices)

    async def idle(self) -> None:
        return None  # claim() has waited for notices already

    def notify(self) -> None:
        return None  # notices arrive from the broker

    async def close(self) -> None:
        await asyncio.to_thread(self._consumer.stop)
