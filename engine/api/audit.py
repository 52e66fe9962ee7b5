"""GET /api/v1/audit/verify: the audit chain checked, for auditors and integrators."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends

from engine.api.auth import Dependency
from engine.store.audit import verify
from engine.store.events import record_event
from engine.store.tokens import Principal

if TYPE_CHECKING:
    from engine.runtime import Engine


def audit_router(engine: Engine, reader: Dependency) -> APIRouter:
    router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

    @router.get(
        "/verify",
        summary="Recompute the audit hash chain",
        description="ok false names the first changed, deleted or missing event.",
    )
    async def verify_chain(caller: Principal = Depends(reader)) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            with engine.database.connect() as conn:
                result = verify(conn)
            with engine.database.begin() as conn:  # the check itself is on the record
                outcome = "intact" if result.ok else f"broken: {result.problem}"
                record_event(conn, caller.actor, "AUDIT_VERIFY", outcome)
            return {"ok": result.ok, **dataclasses.asdict(result)}

        return await asyncio.to_thread(run)

    return router
