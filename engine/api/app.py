"""The HTTP API. Ingest answers 202 only after the message is committed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from engine.api.audit import audit_router
from engine.api.auth import TokenCache, require
from engine.api.console import console_router
from engine.api.messages import messages_router
from engine.api.metrics import metrics_router
from engine.api.operations import operations_router
from engine.receipts.medcom_answer import medcom_reply, transport_reply
from engine.store.tokens import ROLES, Principal
from engine.store.writer import StoreUnavailable

if TYPE_CHECKING:
    from engine.runtime import Engine


RAW_MESSAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the message exactly as the source system sends it",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in (
                "x-application/hl7-v2+er7",
                "application/xml",
                "application/json",
                "application/edifact",
                "application/octet-stream",
            )
        },
    }
}


def create_worker_app(engine: Engine) -> FastAPI:
    """A worker process's HTTP: /healthz and /metrics only (the API is the receiver's)."""
    app = FastAPI(title="Kanal worker", version="0.1.0", docs_url=None, redoc_url=None)
    app.include_router(metrics_router(engine))
    app.include_router(health_router(engine))
    return app


def health_router(engine: Engine) -> APIRouter:
    """GET /healthz: open; the destinations this process's workers cannot reach."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, Any]:
        failing = [f"{w.channel}/{w.name}" for w in engine.workers.values() if not w.healthy]
        return {"status": "ok", "failing_destinations": failing}

    return router


def create_app(engine: Engine) -> FastAPI:
    app = FastAPI(
        title="Kanal",
        version="0.1.0",
        description="Interoperability integration engine for Danish healthcare",
    )

    tokens = TokenCache(engine)
    app.state.tokens = tokens
    anyone = require(tokens, *ROLES)
    poster = require(tokens, "source", "integrator")
    app.include_router(operations_router(engine, require(tokens, "integrator")))
    app.include_router(messages_router(engine, require(tokens, "integrator", "auditor")))
    app.include_router(console_router(engine, tokens))
    app.include_router(audit_router(engine, require(tokens, "integrator", "auditor")))
    app.include_router(metrics_router(engine))  # open, like /healthz: Prometheus scrapes it
    app.include_router(health_router(engine))

    @app.get("/api/v1/channels", dependencies=[Depends(anyone)])
    async def channels() -> list[dict[str, Any]]:
        return [
            {
                "name": c.name,
                "description": c.channel.description,
                "source": c.source.type,
                "destinations": [
                    {
                        "name": d.name,
                        "type": d.type,
                        "healthy": engine.destination_healthy(c.name, d.name),
                    }
                    for d in c.destination
                ],
            }
            for c in engine.channels.values()
        ]

    @app.post(
        "/api/v1/channels/{name}/messages",
        status_code=202,
        summary="Post one message (or an HL7 batch) to a channel",
        description=(
            "MedCom letters are answered with their receipt (CTL/XCTL, FHIR Acknowledgement) "
            "in messages[].receipt; with Accept: application/edifact, application/xml or "
            "application/fhir+json the receipt itself is the response body."
        ),
        openapi_extra=RAW_MESSAGE_BODY,
        responses={
            422: {"description": "stored as ERROR: the reason is in messages[].error"},
            413: {"description": "larger than the source's max_message_bytes"},
            503: {"description": "not stored: the store is unavailable, send again"},
            401: {"description": "no token, or an unknown or revoked one"},
            403: {"description": "the token's role or channel does not allow this"},
        },
    )
    async def post_message(
        name: str, request: Request, caller: Principal = Depends(poster)
    ) -> Response:
        """The raw message is the body, as sent. 202 only after it is committed."""
        if caller.channel and caller.channel != name:
            raise HTTPException(403, f"this token may post only to channel {caller.channel!r}")
        if name not in engine.channels:
            raise HTTPException(404, f"no channel named {name!r}")
        limit = getattr(engine.channels[name].source, "max_message_bytes", 10 * 1024 * 1024)
        body = await _read_limited(request, limit)
        origin = f"http:{request.client.host if request.client else '?'}"
        try:
            receipts = await engine.receiver.receive(name, body, origin)
        except StoreUnavailable:
            return JSONResponse(
                {"error": "the store is unavailable; send again later"},
                503,
                headers={"Retry-After": "5"},
            )
        answers = [medcom_reply(r) for r in receipts]
        accepted = all(r.accepted for r in receipts)
        status = 202 if accepted else 422
        wanted = request.headers.get("accept", "")
        if len(receipts) == 1 and answers[0] is not None and _wants_receipt(wanted):
            # MedCom over HTTP: the receipt itself is the answer
            return Response(answers[0], status, media_type=_media_type(answers[0]))
        items = [
            {
                "id": r.message_id,
                "status": "RECEIVED" if r.accepted else "ERROR",
                "type": r.parsed.meta.type,
                "control_id": r.parsed.meta.control_id,
                **({"error": r.error} if r.error else {}),
                **({"duplicate_of": r.duplicate_of} if r.duplicate_of else {}),
                **({"receipt": _text(answer)} if answer is not None else {}),
                **({"transport_receipt": _text(vans)} if (vans := transport_reply(r)) else {}),
            }
            for r, answer in zip(receipts, answers, strict=True)
        ]
        return JSONResponse({"ids": [i["id"] for i in items], "messages": items}, status)

    return app


RECEIPT_TYPES = ("application/edifact", "application/xml", "application/fhir+json")


def _wants_receipt(accept: str) -> bool:
    return any(kind in accept for kind in RECEIPT_TYPES)


def _media_type(answer: bytes) -> str:
    head = answer.lstrip()[:1]
    if head == b"{":
        return "application/fhir+json"
    return "application/xml" if head == b"<" else "application/edifact"


def _text(answer: bytes) -> str:
    # MedCom EDIFACT and OIOXML receipts are ISO 8859-1; FHIR JSON and VANS are UTF-8
    utf8 = answer.lstrip()[:1] == b"{" or b'ENCODING="UTF-8"' in answer[:100].upper()
    return answer.decode("utf-8" if utf8 else "latin-1")


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"message larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
