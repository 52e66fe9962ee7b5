"""GET /api/v1/audit/verify: the audit chain checked, for auditors and integrators."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends

from engine.api.auth import Dependency
from engine.store.events import checked_chain
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
        return await asyncio.to_thread(checked_chain, engine.database, caller.actor)

    return router
