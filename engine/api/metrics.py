"""GET /metrics in Prometheus' text format (engine/metrics.py counts)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from engine.metrics import metrics_of

if TYPE_CHECKING:
    from engine.runtime import Engine


def metrics_router(engine: Engine) -> APIRouter:
    """GET /metrics for this engine (open, like /healthz: Prometheus scrapes it)."""
    metrics = metrics_of(engine.writer)
    metrics.watch_queues(
        engine.database,
        [(c.name, d.name) for c in engine.channels.values() for d in c.destination],
    )
    router = APIRouter(tags=["metrics"])

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    async def prometheus() -> Response:
        # in a thread: the queue depth may read the store
        body = await asyncio.to_thread(metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
