"""A worker per destination: claim due deliveries, send them, record what happened.

Failures never block the queue: a failed delivery is rescheduled by its retry policy and
the worker moves on to the next. Only an unreachable destination pauses its worker
(a circuit breaker), so an outage does not burn every queued message's attempts.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from engine.alerts import Alerts
from engine.config import QueueSection, RetryPolicy
from engine.destinations import Destination, SendResult
from engine.metrics import observe_attempt
from engine.pipeline.claims import ClaimSource
from engine.pipeline.items import Claimed, Outcome
from engine.pipeline.retry import backoff, decide
from engine.store.writer import StoreUnavailable, Writer

log = structlog.get_logger("kanal.worker")


class DestinationWorker:
    def __init__(
        self,
        channel: str,
        name: str,
        lanes: list[Destination],
        policy: RetryPolicy,
        writer: Writer,
        queue: QueueSection,
        source: ClaimSource,
        alerts: Alerts | None = None,
    ):
        self.channel, self.name = channel, name
        self._lanes = lanes  # one connection each, sending in parallel
        self._policy = policy
        self._writer = writer
        self._source = source
        self._poll = queue.poll
        self._outages = 0  # consecutive unreachable attempts, for the pause length
        self._alerts = alerts
        self._failures = 0  # consecutive failed attempts (not the message's fault)
        self._failing = False
        self._failing_after = alerts.failing_after if alerts is not None else 3
        self._recording: list[asyncio.Future[None]] = []
        self.healthy = True

    def notify(self) -> None:
        """New work was queued for this destination."""
        self._source.notify()

    async def run(self) -> None:
        try:
            while True:
                try:
                    claimed = await self._source.claim()
                except StoreUnavailable:
                    await asyncio.sleep(self._poll)
                    continue
                # Outcomes of the previous batch commit while this one was being claimed.
                await self._settle_recording()
                try:
                    await self._source.finished()
                except StoreUnavailable as exc:  # its notices come back from the broker
                    log.warning("worker.settle_failed", destination=self.name, error=str(exc))
                if not claimed:
                    await self._source.idle()
                    continue
                await self._deliver_batch(claimed)
        finally:
            await self._source.close()
            for lane in self._lanes:
                await lane.close()

    async def _deliver_batch(self, claimed: list[Claimed]) -> None:
        count = len(self._lanes)
        reachable = await asyncio.gather(
            *(self._deliver_lane(lane, claimed[i::count]) for i, lane in enumerate(self._lanes))
        )
        if not all(reachable):
            await self._settle_recording()
            await self._pause()

    async def _deliver_lane(self, lane: Destination, items: list[Claimed]) -> bool:
        """Send in order on one connection; False if the destination was unreachable."""
        for index, item in enumerate(items):
            outcome = await self._attempt(lane, item)
            observe_attempt(self._writer, self.channel, self.name, outcome)
            self._recording.append(self._writer.enqueue("outcome", outcome))
            if outcome.verdict == "unreachable":
                for rest in items[index + 1 :]:
                    self._recording.append(self._writer.enqueue("release", rest.delivery_id))
                return False
        return True

    async def _settle_recording(self) -> None:
        """Wait for recorded outcomes; one the store refused stays claimed until its lease ends."""
        if self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)
            self._recording.clear()

    async def _attempt(self, lane: Destination, item: Claimed) -> Outcome:
        started = time.time()
        try:
            result = await lane.send(item.payload, item)
        except Exception as exc:  # a connector bug must not kill the worker
            log.exception("delivery.crashed", channel=self.channel, destination=self.name)
            result = SendResult("transient", f"{type(exc).__name__}: {exc}")
        self._track_health(result)
        return decide(
            self._policy,
            item,
            result.verdict,
            result.detail,
            started,
            time.time(),
            result.response,
            result.acknowledged,
        )

    def _track_health(self, result: SendResult) -> None:
        if result.verdict == "unreachable":
            self._outages += 1
            self.healthy = False
        elif not self.healthy:
            self.healthy, self._outages = True, 0
        self._track_alerts(result)

    def _track_alerts(self, result: SendResult) -> None:
        """Failing: unreachable, or several transient failures in a row; recovered at the
        next success. A fatal rejection is the message's fault, not the destination's."""
        if result.verdict == "fatal":
            return
        if result.verdict == "ok":
            self._failures = 0
            if self._failing:
                self._failing = False
                self._announce("recovered", "")
            return
        self._failures += 1
        limit = 1 if result.verdict == "unreachable" else self._failing_after
        if not self._failing and self._failures >= limit:
            self._failing = True
            self._announce("failing", result.detail)

    def _announce(self, state: str, reason: str) -> None:
        if self._alerts is not None:
            self._alerts.state_changed(self.channel, self.name, state, reason)
        elif state == "failing":
            log.warning(
                "destination.failing", channel=self.channel, destination=self.name, reason=reason
            )
        else:
            log.info("destination.recovered", channel=self.channel, destination=self.name)

    async def _pause(self) -> None:
        await asyncio.sleep(backoff(self._policy, self._outages))
