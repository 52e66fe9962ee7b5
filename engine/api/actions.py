"""Resend and cancel for the API and the console: the same store operations as the CLI,
in the caller's name, then the workers told that there is work."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from engine.queue.rebuild import notices_for
from engine.store.operations import CANCELLABLE, RESENDABLE, cancel, message_deliveries, resend

if TYPE_CHECKING:
    from engine.runtime import Engine

NOTICES_AT_ONCE = 1000  # deliveries per notices_for query and publish


async def resend_message(
    engine: Engine, message_id: int, actor: str, reason: str, destination: str | None = None
) -> int:
    """A message's resendable deliveries (or one destination's) queued again; how many."""

    def run() -> tuple[int, list[int]]:
        with engine.database.begin() as conn:
            ids = message_deliveries(conn, message_id, RESENDABLE, destination)
            return resend(conn, ids, actor, reason), ids

    done, ids = await asyncio.to_thread(run)
    await requeued(engine, ids)
    return done


async def cancel_message(
    engine: Engine, message_id: int, actor: str, reason: str, destination: str | None = None
) -> int:
    """A message's open deliveries (or one destination's) cancelled; how many."""

    def run() -> int:
        with engine.database.begin() as conn:
            ids = message_deliveries(conn, message_id, CANCELLABLE, destination)
            return cancel(conn, ids, actor, reason)

    done = await asyncio.to_thread(run)
    _wake(engine)
    return done


async def requeued(engine: Engine, ids: list[int]) -> None:
    """Deliveries queued again: a notice each on the rabbitmq backend (the sweep would find
    them too, but only after queue.sweep), and the local workers woken."""
    if engine.publisher is not None:
        for start in range(0, len(ids), NOTICES_AT_ONCE):
            part = ids[start : start + NOTICES_AT_ONCE]
            await engine.publisher.publish(
                await asyncio.to_thread(notices_for, engine.database, part)
            )
    _wake(engine)


def _wake(engine: Engine) -> None:
    for worker in engine.workers.values():  # the work is due now
        worker.notify()
