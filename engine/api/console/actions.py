"""Resend and cancel from the console: the same store operations as the API and the CLI,
in the signed-in person's name, and the workers told that there is work."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from engine.queue.rebuild import notices_for
from engine.store.operations import CANCELLABLE, RESENDABLE, cancel, message_deliveries, resend

if TYPE_CHECKING:
    from engine.runtime import Engine


async def resend_message(engine: Engine, message_id: int, actor: str, reason: str) -> int:
    def run() -> tuple[int, list[int]]:
        with engine.database.begin() as conn:
            ids = message_deliveries(conn, message_id, RESENDABLE)
            return resend(conn, ids, actor, reason), ids

    done, ids = await asyncio.to_thread(run)
    if done and engine.publisher is not None:  # the rabbitmq backend: a notice each
        await engine.publisher.publish(await asyncio.to_thread(notices_for, engine.database, ids))
    _wake(engine)
    return done


async def cancel_message(engine: Engine, message_id: int, actor: str, reason: str) -> int:
    def run() -> int:
        with engine.database.begin() as conn:
            return cancel(conn, message_deliveries(conn, message_id, CANCELLABLE), actor, reason)

    done = await asyncio.to_thread(run)
    _wake(engine)
    return done


def _wake(engine: Engine) -> None:
    for worker in engine.workers.values():
        worker.notify()
