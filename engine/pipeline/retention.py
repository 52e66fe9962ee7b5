"""The retention loop: every `[engine] prune_every`, prune the content of old finished
messages of every channel with a `retention`, a short transaction at a time with a pause
between (engine.store.retention)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import structlog
from sqlalchemy import Engine as Database

from engine.config import ChannelConfig
from engine.store.retention import BATCH, Batch, Position, prune_batch

log = structlog.get_logger("kanal.retention")


@dataclass(frozen=True)
class _Plan:
    channel: str
    retention: float  # seconds
    awaiting_receipt: frozenset[str]  # destinations whose SENT deliveries wait for a receipt


class Retention:
    def __init__(
        self,
        database: Database,
        channels: list[ChannelConfig],
        every: float = 600.0,
        batch: int = BATCH,
        pause: float = 0.1,
    ) -> None:
        self._database = database
        self._every = every
        self._batch = batch
        self._pause = pause  # between transactions: the writer gets the store in between
        self._plans = [
            _Plan(
                c.name,
                c.channel.retention,
                frozenset(d.name for d in c.destination if d.receipt is not None),
            )
            for c in channels
            if c.channel.retention is not None
        ]
        # Per channel, where the next pass starts: everything before it is pruned, so a
        # pass does not walk the already-pruned history again (from 0 after a restart).
        self._start: dict[str, Position | None] = {}

    @property
    def needed(self) -> bool:
        return bool(self._plans)

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # the store may be away: try again at the next pass
                log.exception("retention.failed")
            await asyncio.sleep(self._every)

    async def run_once(self, now: float | None = None) -> dict[str, int]:
        """One pass over every channel; messages pruned per channel. `now` for tests."""
        pruned: dict[str, int] = {}
        for plan in self._plans:
            pruned[plan.channel] = await self._prune_channel(plan, now)
        return pruned

    async def _prune_channel(self, plan: _Plan, now: float | None) -> int:
        clock = time.time() if now is None else now
        before = clock - plan.retention
        after = self._start.get(plan.channel)
        held: Position | None = None
        total = 0
        while True:
            batch = await asyncio.to_thread(self._one_batch, plan, before, after, now)
            total += batch.pruned
            if held is None:
                held = batch.held
            if batch.last is not None:
                after = batch.last
            if batch.scanned < self._batch:
                break
            await asyncio.sleep(self._pause)
        # Next pass: from just before the oldest message held back (it may be finished
        # by then), or else from where this pass ended.
        self._start[plan.channel] = _just_before(held) if held is not None else after
        if total:
            log.info("retention.pruned", channel=plan.channel, messages=total)
        return total

    def _one_batch(
        self, plan: _Plan, before: float, after: Position | None, now: float | None
    ) -> Batch:
        with self._database.begin() as conn:
            return prune_batch(
                conn,
                plan.channel,
                before,
                after=after,
                limit=self._batch,
                awaiting_receipt=plan.awaiting_receipt,
                now=now,
            )


def _just_before(position: Position) -> Position:
    received_at, message_id = position
    return (received_at, message_id - 1)
