"""Alerts without floods: a destination's state changes (healthy → failing → recovered)
are announced once each, to the log and to a webhook, however many messages fail."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import structlog

from engine.config import AlertsSection

log = structlog.get_logger("kanal.alerts")


class Alerts:
    def __init__(self, config: AlertsSection) -> None:
        self._config = config
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def failing_after(self) -> int:
        return self._config.failing_after

    def state_changed(self, channel: str, destination: str, state: str, reason: str) -> None:
        """`state`: failing or recovered. Never blocks the worker, never raises."""
        event = {
            "event": f"destination.{state}",
            "channel": channel,
            "destination": destination,
            "reason": reason,
            "at": time.time(),
        }
        if state == "failing":
            log.warning(
                "destination.failing", channel=channel, destination=destination, reason=reason
            )
        else:
            log.info("destination.recovered", channel=channel, destination=destination)
        if self._config.webhook:
            task = asyncio.get_running_loop().create_task(self._post(event))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _post(self, event: dict[str, Any]) -> None:
        try:
            async with httpx.AsyncClient(timeout=self._config.timeout) as client:
                answer = await client.post(self._config.webhook, json=event)
                answer.raise_for_status()
        except httpx.HTTPError as exc:  # an alert that cannot be sent is logged, not retried
            log.error("alert.not_sent", webhook=self._config.webhook, error=str(exc), **event)

    async def drain(self) -> None:
        """Wait for alerts still being sent (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
