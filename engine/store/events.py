"""One audit event outside the delivery path: a token created, content read by a person."""

from __future__ import annotations

import time

from sqlalchemy import Connection, insert

from engine.store.audit import seal
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
