"""API tokens: created once and shown once; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from engine.store.schema import api_tokens

ROLES = ("source", "integrator", "auditor")
PREFIX = "kanal_"


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


def find_token(conn: Connection, token: str) -> Principal | None:
    row = conn.execute(
        select(api_tokens.c.name, api_tokens.c.role, api_tokens.c.channel).where(
            api_tokens.c.token_hash == digest(token), api_tokens.c.revoked_at.is_(None)
        )
    ).first()
    return Principal(row.name, row.role, row.channel) if row else None


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
        ).order_by(api_tokens.c.id)
    )
    return [dict(row._mapping) for row in rows]
