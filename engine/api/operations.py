"""Resend and cancel over HTTP: the same operations as `kanal messages resend|cancel`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict

from engine.api import actions
from engine.api.auth import Dependency
from engine.store.operations import (
    RESENDABLE,
    DeliveryQuery,
    in_batches,
    matching,
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
        done = await actions.resend_message(engine, message_id, caller.actor, reason, destination)
        return _answer(done, "resent")

    @router.post("/messages/{message_id}/cancel", summary="Stop a message's queued deliveries")
    async def cancel_message(
        message_id: int,
        destination: str | None = None,
        reason: str = "",
        caller: Principal = Depends(integrator),
    ) -> dict[str, int]:
        done = await actions.cancel_message(engine, message_id, caller.actor, reason, destination)
        return _answer(done, "cancelled")

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
        await actions.requeued(engine, ids)
        return _answer(done, "resent", allow_none=True)

    return router


def _answer(done: int, what: str, allow_none: bool = False) -> dict[str, int]:
    if not done and not allow_none:
        raise HTTPException(404, f"nothing {what}: no delivery in a state that allows it")
    return {what: done}
