"""One audit event outside the delivery path: a token created, content read by a person."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Connection, Engine

from engine.store.audit import event, seal, stage, verify


def record_event(
    conn: Connection,
    actor: str,
    action: str,
    detail: str = "",
    *,
    reason: str | None = None,
    message_id: int | None = None,
) -> None:
    """The transaction's last audit event: staged and sealed with any staged before it.
    Events before the last one in a transaction are `stage`d (`engine.store.audit.event`),
    so that the transaction seals once."""
    stage(conn, [event(actor, action, detail, reason=reason, message_id=message_id)])
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
