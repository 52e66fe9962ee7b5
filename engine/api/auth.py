"""Bearer tokens with roles. A token comes in the Authorization header (systems) or in
the console's cookie (people). No token: 401; a role that may not: 403.

Lookups are cached briefly so that ingest does not pay a store query per message; a
revoked token stops working within CACHE_SECONDS. A lookup also records the token's use
(api_tokens.last_used_at), at most once a minute per token: never per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request

from engine.store.tokens import Principal, digest, find_token

if TYPE_CHECKING:
    from engine.runtime import Engine

COOKIE = "kanal_token"
CACHE_SECONDS = 10.0

Dependency = Callable[[Request], Coroutine[Any, Any, Principal]]


class TokenCache:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._known: dict[str, tuple[Principal | None, float]] = {}

    async def principal(self, token: str) -> Principal | None:
        key = digest(token)
        cached = self._known.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        found = await asyncio.to_thread(self._lookup, token)
        if len(self._known) > 10_000:  # a flood of made-up tokens must not grow it forever
            self._known.clear()
        self._known[key] = (found, time.monotonic() + CACHE_SECONDS)
        return found

    def _lookup(self, token: str) -> Principal | None:
        with self._engine.database.begin() as conn:
            return find_token(conn, token, used_at=time.time())


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE) or None


def require(cache: TokenCache, *roles: str) -> Dependency:
    """A dependency: the caller's Principal, if their token has one of `roles`."""

    async def dependency(request: Request) -> Principal:
        token = presented_token(request)
        if token is None:
            raise HTTPException(
                401, "an API token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        principal = await cache.principal(token)
        if principal is None:
            raise HTTPException(
                401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"}
            )
        if principal.role not in roles:
            raise HTTPException(403, f"role {principal.role!r} may not do this")
        request.state.principal = principal
        return principal

    return dependency
