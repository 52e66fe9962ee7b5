"""API tokens: created once and shown once; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from engine.store.schema import api_tokens

ROLES = ("source", "integrator", "auditor")
PREFIX = "kanal_"
USE_RECORDED_EVERY = 60.0  # seconds: how stale a token's last_used_at may get


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a token's name, role and (for a source) its channel."""

    name: str
    role: str
    channel: str | None = None

    @property
    def actor(self) -> str:
        return f"token:{self.name}"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, name: str, role: str, channel: str | None = None) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if channel and role != "source":
        raise ValueError("--channel restricts a source token; other roles see every channel")
    taken = conn.execute(
        select(api_tokens.c.id).where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
    ).first()
    if taken:
        raise ValueError(f"a token named {name!r} exists; revoke it first or pick another name")
    token = PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        insert(api_tokens).values(
            name=name,
            role=role,
            channel=channel or None,
            token_hash=digest(token),
            created_at=time.time(),
        )
    )
    return token


def find_token(conn: Connection, token: str, used_at: float | None = None) -> Principal | None:
    """Who holds `token` (None: unknown or revoked). With `used_at`, the use is recorded
    in last_used_at, unless it says a use within USE_RECORDED_EVERY seconds already (the
    caller commits): at most one UPDATE a minute per token, however many processes ask."""
    row = conn.execute(
        select(
            api_tokens.c.id,
            api_tokens.c.name,
            api_tokens.c.role,
            api_tokens.c.channel,
            api_tokens.c.last_used_at,
        ).where(api_tokens.c.token_hash == digest(token), api_tokens.c.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    recorded = row.last_used_at
    if used_at is not None and (recorded is None or recorded <= used_at - USE_RECORDED_EVERY):
        conn.execute(  # the condition again: another process may have recorded it meanwhile
            update(api_tokens)
            .where(
                api_tokens.c.id == row.id,
                or_(
                    api_tokens.c.last_used_at.is_(None),
                    api_tokens.c.last_used_at <= used_at - USE_RECORDED_EVERY,
                ),
            )
            .values(last_used_at=used_at)
        )
    return Principal(row.name, row.role, row.channel)


def revoke_token(conn: Connection, name: str) -> int:
    return conn.execute(
        update(api_tokens)
        .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=time.time())
    ).rowcount


def list_tokens(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            api_tokens.c.name,
            api_tokens.c.role,
            api_tokens.c.channel,
            api_tokens.c.created_at,
            api_tokens.c.revoked_at,
            api_tokens.c.last_used_at,
        ).order_by(api_tokens.c.id)
    )
    return [dict(row._mapping) for row in rows]
