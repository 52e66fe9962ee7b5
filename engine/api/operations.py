"""Resend and cancel over HTTP: the same operations as `kanal messages resend|cancel`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict

from engine.api.auth import Dependency
from engine.queue.rebuild import notices_for
from engine.store.operations import (
    CANCELLABLE,
    RESENDABLE,
    DeliveryQuery,
    cancel,
    in_batches,
    matching,
    message_deliveries,
    resend,
)
from engine.store.tokens import Principal

if TYPE_CHECKING:
    from engine.runtime import Engine


class BulkResend(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = "DEAD"
    channel: str | None = None
    destination: str | None = None
    since: float | None = None  # epoch seconds: messages received at or after
    until: float | None = None
    reason: str = ""


def operations_router(engine: Engine, integrator: Dependency) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["operations"])

    @router.post("/messages/{message_id}/resend", summary="Send a message's deliveries again")
    async def resend_message(
        message_id: int,
        destination: str | None = None,
        reason: str = "",
        caller: Principal = Depends(integrator),
    ) -> dict[str, int]:
        def run() -> tuple[int, list[int]]:
            with engine.database.begin() as conn:
                ids = message_deliveries(conn, message_id, RESENDABLE, destination)
                return resend(conn, ids, caller.actor, reason), ids

        done, ids = await asyncio.to_thread(run)
        await _announce(engine, ids)
        return _answer(done, "resent", engine)

    @router.post("/messages/{message_id}/cancel", summary="Stop a message's queued deliveries")
    async def cancel_message(
        message_id: int,
        destination: str | None = None,
        reason: str = "",
        caller: Principal = Depends(integrator),
    ) -> dict[str, int]:
        def run() -> int:
            with engine.database.begin() as conn:
                ids = message_deliveries(conn, message_id, CANCELLABLE, destination)
                return cancel(conn, ids, caller.actor, reason)

        return _answer(await asyncio.to_thread(run), "cancelled", engine)

    @router.post("/deliveries/resend", summary="Send every delivery matching a query again")
    async def resend_matching(
        query: BulkResend, caller: Principal = Depends(integrator)
    ) -> dict[str, int]:
        def run() -> tuple[int, list[int]]:
            with engine.database.connect() as conn:
                ids = matching(
                    conn, DeliveryQuery(**query.model_dump(exclude={"reason"})), RESENDABLE
                )

            def batch(part: list[int]) -> int:
                with engine.database.begin() as conn:
                    return resend(conn, part, caller.actor, query.reason)

            return in_batches(batch, ids), ids

        try:
            done, ids = await asyncio.to_thread(run)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        await _announce(engine, ids)
        return _answer(done, "resent", engine, allow_none=True)

    return router


async def _announce(engine: Engine, ids: list[int]) -> None:
    """The rabbitmq backend: a notice for each delivery queued again (the sweep would find
    them too, but only after queue.sweep)."""
    if engine.publisher is not None and ids:
        for start in range(0, len(ids), 1000):
            part = ids[start : start + 1000]
            await engine.publisher.publish(
                await asyncio.to_thread(notices_for, engine.database, part)
            )


def _answer(done: int, what: str, engine: Engine, allow_none: bool = False) -> dict[str, int]:
    if not done and not allow_none:
        raise HTTPException(404, f"nothing {what}: no delivery in a state that allows it")
    for worker in engine.workers.values():  # wake them: the work is due now
        worker.notify()
    return {what: done}
