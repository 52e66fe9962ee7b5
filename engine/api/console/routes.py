"""The web console's pages under /console: server-rendered HTML, forms and links only.

Login (paste a token), dashboard, message browser, one message (reveal with a reason;
resend and cancel for integrators), audit log. Reads are audited like the API's.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from engine.api.actions import cancel_message, resend_message
from engine.api.auth import TokenCache
from engine.api.console.audit_page import newest_events
from engine.api.console.dashboard import bars, channel_counts, per_minute
from engine.api.console.session import (
    BASE,
    PEOPLE,
    Person,
    check_origin,
    checked_form,
    end_session,
    person_dependency,
    read_form,
    safe_next,
    start_session,
)
from engine.api.messages import page, search_filter
from engine.store.disclosure import (
    ReasonRequired,
    check_reason,
    logged_detail,
    logged_search,
    present,
    responses,
)
from engine.store.events import checked_chain, record_event
from engine.store.operations import CANCELLABLE, RESENDABLE
from engine.store.queries import DELIVERY_STATUSES, MESSAGE_STATUSES

if TYPE_CHECKING:
    from engine.runtime import Engine

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
FILTERS = ("cpr", "sender", "receiver", "type", "status", "channel", "since", "until")
PAGE = 50


def console_router(engine: Engine, tokens: TokenCache) -> APIRouter:
    router = APIRouter(prefix=BASE, include_in_schema=False)
    signed = Depends(person_dependency(tokens))
    css = (HERE / "static" / "console.css").read_bytes()

    def render(
        request: Request, name: str, person: Person | None, status: int = 200, **context: Any
    ) -> Response:
        context = {"person": person, "base": BASE, **context}
        headers = {"Cache-Control": "no-store"}  # patient data stays out of caches
        return templates.TemplateResponse(request, name, context, status, headers)

    def refuse(request: Request, person: Person, why: str) -> Response:
        return render(request, "error.html", person, 403, title="Not allowed", message=why)

    @router.get("/static/console.css")
    async def stylesheet() -> Response:
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=300"})

    @router.get("")
    async def root() -> Response:
        return RedirectResponse(f"{BASE}/", 303)

    @router.get("/login")
    async def login_page(request: Request, next: str | None = None) -> Response:
        return render(request, "login.html", None, next=safe_next(next))

    @router.post("/login")
    async def login(request: Request) -> Response:
        check_origin(request)
        form = await read_form(request)
        token, target = form.get("token", "").strip(), safe_next(form.get("next"))
        principal = await tokens.principal(token) if token else None
        if principal is None or principal.role not in PEOPLE:
            why = (
                "Unknown or revoked token."
                if principal is None
                else f"A {principal.role} token cannot use the console; use an integrator's "
                "or an auditor's."
            )
            status = 401 if principal is None else 403
            return render(request, "login.html", None, status, next=target, error=why)

        def log_in() -> None:
            with engine.database.begin() as conn:
                record_event(conn, principal.actor, "LOGIN", "console")

        await asyncio.to_thread(log_in)
        response = RedirectResponse(target, 303)
        start_session(response, request, token)
        return response

    @router.post("/logout")
    async def logout(request: Request, person: Person = signed) -> Response:
        await checked_form(request, person)
        response = RedirectResponse(f"{BASE}/login", 303)
        end_session(response, request)
        return response

    @router.get("/")
    async def dashboard(request: Request, person: Person = signed) -> Response:
        def read() -> tuple[dict[str, dict[str, int]], list[int]]:
            now = time.time()
            with engine.database.connect() as conn:
                return channel_counts(conn, now), per_minute(conn, now)

        counts, minutes = await asyncio.to_thread(read)
        channels = [
            {
                "name": name,
                "description": config.channel.description,
                "counts": counts.get(name, {}),
                "failing": [
                    d.name
                    for d in config.destination
                    if engine.destination_healthy(name, d.name) is False
                ],
            }
            for name, config in sorted(engine.channels.items())
        ]
        return render(request, "dashboard.html", person, channels=channels, chart=bars(minutes))

    @router.get("/messages")
    async def browse(
        request: Request, person: Person = signed, cursor: int | None = None
    ) -> Response:
        given = {k: request.query_params.get(k, "").strip() for k in FILTERS}
        context: dict[str, Any] = {
            "filters": given,
            "channels": sorted(engine.channels),
            "statuses": sorted(MESSAGE_STATUSES) + sorted(DELIVERY_STATUSES),
            "items": [],
            "next": None,
        }
        try:
            where = search_filter(**given, limit=PAGE, cursor=cursor)
        except ValueError as exc:
            return render(request, "messages.html", person, 422, error=str(exc), **context)

        def run() -> list[dict[str, Any]]:
            with engine.database.begin() as conn:
                return logged_search(conn, person.actor, where)

        items, after = page(await asyncio.to_thread(run), PAGE)
        if after is not None:
            kept = {k: v for k, v in given.items() if v}
            context["next"] = f"{BASE}/messages?{urlencode({**kept, 'cursor': after})}"
        context["items"] = items
        return render(request, "messages.html", person, **context)

    async def message_page(
        request: Request,
        person: Person,
        message_id: int,
        reason: str | None = None,
        status: int = 200,
        **context: Any,
    ) -> Response:
        def run() -> dict[str, Any] | None:
            with engine.database.begin() as conn:
                return logged_detail(conn, person.actor, message_id, reason)

        found = await asyncio.to_thread(run)
        if found is None:
            message = f"No message with id {message_id}."
            return render(request, "error.html", person, 404, title="Not found", message=message)
        shown = present(found, reveal=reason is not None)
        names = {d["id"]: d["destination"] for d in shown["deliveries"]}
        return render(
            request,
            "message.html",
            person,
            status,
            m=shown,
            destinations=names,
            responses=responses(found),
            may_resend=any(d["status"] in RESENDABLE for d in shown["deliveries"]),
            may_cancel=any(d["status"] in CANCELLABLE for d in shown["deliveries"]),
            **context,
        )

    @router.get("/messages/{message_id}")
    async def message(
        request: Request, message_id: int, done: str | None = None, person: Person = signed
    ) -> Response:
        return await message_page(request, person, message_id, notice=done)

    @router.post("/messages/{message_id}/reveal")
    async def reveal(request: Request, message_id: int, person: Person = signed) -> Response:
        form = await checked_form(request, person)
        try:
            reason = check_reason(form.get("reason"))
        except ReasonRequired as exc:
            return await message_page(request, person, message_id, status=422, error=str(exc))
        return await message_page(request, person, message_id, reason=reason)

    @router.post("/messages/{message_id}/{action}")
    async def operate(
        request: Request, message_id: int, action: str, person: Person = signed
    ) -> Response:
        if action not in ("resend", "cancel"):
            raise HTTPException(404, "no such action")
        if not person.may_operate:
            return refuse(request, person, f"An {person.principal.role} may not {action}.")
        form = await checked_form(request, person)
        reason = form.get("reason", "").strip()
        if action == "resend":
            done = await resend_message(engine, message_id, person.actor, reason)
            notice = f"{_deliveries(done)} queued again" if done else "nothing to resend"
        else:
            done = await cancel_message(engine, message_id, person.actor, reason)
            notice = f"{_deliveries(done)} cancelled" if done else "nothing to cancel"
        query = urlencode({"done": notice})
        return RedirectResponse(f"{BASE}/messages/{message_id}?{query}", 303)

    @router.get("/audit")
    async def audit(
        request: Request, person: Person = signed, before: int | None = None, verify: bool = False
    ) -> Response:
        def run() -> tuple[list[dict[str, Any]], int | None, dict[str, Any] | None]:
            chain = checked_chain(engine.database, person.actor) if verify else None
            with engine.database.begin() as conn:  # reading the log is on the record too
                events, after = newest_events(conn, before)
                record_event(conn, person.actor, "AUDIT_READ", f"before id {before or '-'}")
            return events, after, chain

        events, after, chain = await asyncio.to_thread(run)
        older = f"{BASE}/audit?{urlencode({'before': after})}" if after else None
        return render(request, "audit.html", person, events=events, older=older, chain=chain)

    return router


def _deliveries(count: int) -> str:
    return f"{count} delivery" if count == 1 else f"{count} deliveries"
