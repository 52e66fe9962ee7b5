"""Who is using the console: the token pasted at login, kept in an HttpOnly cookie.

The cookie is SameSite=Strict and sent only to /console (the JSON API never sees it, so
a page elsewhere cannot make a browser call the API with it). Every form that changes
something carries a CSRF token derived from the session's token (an attacker's page
cannot know it: the cookie is HttpOnly) and must come from our own origin.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import Response

from engine.api.auth import COOKIE, TokenCache
from engine.store.tokens import Principal

BASE = "/console"
PEOPLE = ("integrator", "auditor")  # a source token is a system, not a person
SESSION_SECONDS = 8 * 3600
MAX_FORM_BYTES = 64 * 1024
_CSRF_KEY = b"kanal-console-csrf"


@dataclass(frozen=True)
class Person:
    principal: Principal
    csrf: str

    @property
    def actor(self) -> str:
        return self.principal.actor

    @property
    def may_operate(self) -> bool:
        return self.principal.role == "integrator"


def csrf_for(token: str) -> str:
    return hmac.new(_CSRF_KEY, token.encode(), hashlib.sha256).hexdigest()


def login_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{BASE}/login?next={quote(here, safe='')}"


def safe_next(target: str | None) -> str:
    """Where to go after login: only a console page of ours, never another site."""
    if target and target.startswith(BASE) and not target.startswith("//") and "\\" not in target:
        return target
    return f"{BASE}/"


def person_dependency(
    tokens: TokenCache,
) -> Callable[[Request], Coroutine[Any, Any, Person]]:
    """The signed-in person; anyone else is sent to the login page (303)."""

    async def dependency(request: Request) -> Person:
        token = request.cookies.get(COOKIE)
        principal = await tokens.principal(token) if token else None
        if principal is None or principal.role not in PEOPLE:
            raise HTTPException(303, "sign in first", headers={"Location": login_url(request)})
        return Person(principal, csrf_for(token or ""))

    return dependency


def check_origin(request: Request) -> None:
    """A browser names the page a POST comes from: it must be one of ours."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        origin = referer if referer else None
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, "this form was posted from another site")


async def read_form(request: Request) -> dict[str, str]:
    """A urlencoded form (the console's forms are small; no multipart)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in fields.items()}


async def checked_form(request: Request, person: Person) -> dict[str, str]:
    """The form of a POST that changes something: same origin, and the session's CSRF."""
    check_origin(request)
    form = await read_form(request)
    if not hmac.compare_digest(form.get("csrf", ""), person.csrf):
        raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page")
    return form


def start_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_SECONDS,
        path=BASE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def end_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE,
        path=BASE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
