"""Reading messages over HTTP: search and one message in full, for integrators and auditors.

Every call is an audit event in the reader's name (SEARCH, READ); CPR numbers are masked;
content stages and the full CPR come only with ?reveal=true&reason=…, logged as REVEAL.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from engine.api.auth import Dependency
from engine.store.disclosure import ReasonRequired, check_reason, logged_detail, logged_search
from engine.store.disclosure import present as present_detail
from engine.store.queries import SearchFilter, parse_filter
from engine.store.tokens import Principal

if TYPE_CHECKING:
    from engine.runtime import Engine

MAX_LIMIT = 500


def search_filter(limit: int = 50, **given: Any) -> SearchFilter:
    """parse_filter, asking for one row more than `limit` to know if there is a next page."""
    return parse_filter(**given, limit=limit + 1)


def page(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """A page of `limit` rows and the cursor of the next one (None on the last page)."""
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], str(rows[limit - 1]["id"])


def messages_router(engine: Engine, reader: Dependency) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["messages"])

    @router.get("/messages", summary="Search messages, newest first (CPR masked)")
    async def search(
        cpr: str | None = None,
        sender: str | None = None,
        receiver: str | None = None,
        type: str | None = None,
        status: str | None = None,
        channel: str | None = None,
        since: Annotated[str | None, Query(description="ISO-8601, or e.g. '2h' ago")] = None,
        until: Annotated[str | None, Query(description="ISO-8601, or e.g. '10m' ago")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Annotated[int | None, Query(description="`next` of the previous page")] = None,
        caller: Principal = Depends(reader),
    ) -> dict[str, Any]:
        try:
            where = search_filter(
                cpr=cpr,
                sender=sender,
                receiver=receiver,
                type=type,
                status=status,
                channel=channel,
                since=since,
                until=until,
                limit=limit,
                cursor=cursor,
            )
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

        def run() -> list[dict[str, Any]]:
            with engine.database.begin() as conn:
                return logged_search(conn, caller.actor, where)

        items, after = page(await asyncio.to_thread(run), limit)
        return {"items": items, "next": after}

    @router.get(
        "/messages/{message_id}",
        summary="One message: metadata, deliveries with attempts, audit trail",
        description=(
            "CPR masked and content stages withheld; with reveal=true and a reason, the full "
            "CPR and the raw, transformed and response stages (logged as REVEAL)."
        ),
    )
    async def detail(
        message_id: int,
        reveal: bool = False,
        reason: Annotated[str | None, Query(description="why; required with reveal")] = None,
        caller: Principal = Depends(reader),
    ) -> dict[str, Any]:
        if reveal:
            try:
                reason = check_reason(reason)
            except ReasonRequired as exc:
                raise HTTPException(422, str(exc)) from None

        def run() -> dict[str, Any] | None:
            with engine.database.begin() as conn:
                return logged_detail(conn, caller.actor, message_id, reason if reveal else None)

        found = await asyncio.to_thread(run)
        if found is None:
            raise HTTPException(404, f"no message with id {message_id}")
        return present_detail(found, reveal=reveal)

    return router
