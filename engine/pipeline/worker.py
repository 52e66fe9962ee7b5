"""A worker per destination: claim due deliveries, send them, record what happened.

Failures never block the queue: a failed delivery is rescheduled by its retry policy and
the worker moves on to the next. Only an unreachable destination pauses its worker
(a circuit breaker), so an outage does not burn every queued message's attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from engine.config import QueueSection, RetryPolicy
from engine.destinations import Destination, SendResult
from engine.pipeline.items import Claimed, ClaimRequest, Outcome
from engine.pipeline.retry import backoff, decide
from engine.store.writer import StoreUnavailable, Writer

log = structlog.get_logger("kanal.worker")


class DestinationWorker:
    def __init__(
        self,
        channel: str,
        name: str,
        destination: Destination,
        policy: RetryPolicy,
        writer: Writer,
        queue: QueueSection,
        batch: int,
    ):
        self.channel, self.name = channel, name
        self._destination = destination
        self._policy = policy
        self._writer = writer
        self._claim = ClaimRequest(channel, name, batch, queue.lease)
        self._poll = queue.poll
        self._wake = asyncio.Event()
        self._outages = 0  # consecutive unreachable attempts, for the pause length
        self.healthy = True

    def notify(self) -> None:
        """New work was queued for this destination."""
        self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                try:
                    claimed: list[Claimed] = await self._writer.submit("claim", self._claim)
                except StoreUnavailable:
                    await asyncio.sleep(self._poll)
                    continue
                if not claimed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._poll)
                    continue
                await self._deliver_batch(claimed)
        finally:
            await self._destination.close()

    async def _deliver_batch(self, claimed: list[Claimed]) -> None:
        recording: list[asyncio.Future[list[None]]] = []
        for index, item in enumerate(claimed):
            outcome = await self._attempt(item)
            recording.append(asyncio.ensure_future(self._writer.submit("outcome", outcome)))
            if outcome.verdict == "unreachable":
                rest = [c.delivery_id for c in claimed[index + 1 :]]
                if rest:
                    recording.append(asyncio.ensure_future(
                        self._writer.submit_many("release", rest)))
                await asyncio.gather(*recording, return_exceptions=True)
                await self._pause()
                return
        await asyncio.gather(*recording, return_exceptions=True)

    async def _attempt(self, item: Claimed) -> Outcome:
        started = time.time()
        try:
            result = await self._destination.send(item.payload, item)
        except Exception as exc:  # a connector bug must not kill the worker
            log.exception("delivery.crashed", channel=self.channel, destination=self.name)
            result = SendResult("transient", f"{type(exc).__name__}: {exc}")
        self._track_health(result)
        return decide(self._policy, item, result.verdict, result.detail, started, time.time(),
                      result.response)

    def _track_health(self, result: SendResult) -> None:
        if result.verdict == "unreachable":
            self._outages += 1
            if self.healthy:
                log.warning("destination.failing", channel=self.channel,
                            destination=self.name, reason=result.detail)
            self.healthy = False
        elif result.verdict != "unreachable" and not self.healthy:
            log.info("destination.recovered", channel=self.channel, destination=self.name)
            self.healthy, self._outages = True, 0

    async def _pause(self) -> None:
        await asyncio.sleep(backoff(self._policy, self._outages))
