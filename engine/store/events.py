"""One audit event outside the delivery path: a token created, content read by a person."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from sqlalchemy import Connection, Engine, insert

from engine.store.audit import seal, verify
from engine.store.schema import audit_events


def record_event(
    conn: Connection,
    actor: str,
    action: str,
    detail: str = "",
    *,
    reason: str | None = None,
    message_id: int | None = None,
) -> None:
    conn.execute(
        insert(audit_events).values(
            at=time.time(),
            actor=actor[:100],
            action=action,
            message_id=message_id,
            delivery_id=None,
            detail=detail,
            reason=reason or None,
        )
    )
    seal(conn)  # callers record the event last in their transaction


def checked_chain(database: Engine, actor: str) -> dict[str, Any]:
    """verify() of the hash chain, the check itself on the record (AUDIT_VERIFY): what the
    API and the console answer."""
    with database.connect() as conn:
        result = verify(conn)
    with database.begin() as conn:
        outcome = "intact" if result.ok else f"broken: {result.problem}"
        record_event(conn, actor, "AUDIT_VERIFY", outcome)
    return {"ok": result.ok, **dataclasses.asdict(result)}
