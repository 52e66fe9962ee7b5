"""The console's audit view: the newest audit events a page at a time (keyset by id),
CPR numbers in their details masked, and the chain check on request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from engine.cpr import mask_cpr_in_text
from engine.store.audit import CHAINED_FIELDS
from engine.store.schema import audit_events
from engine.timefmt import iso

PAGE = 50


def newest_events(
    conn: Connection, before: int | None, limit: int = PAGE
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of events, newest first, and the id to continue from (None: the last page)."""
    query = select(audit_events.c.seq, *CHAINED_FIELDS).order_by(audit_events.c.id.desc())
    if before is not None:
        query = query.where(audit_events.c.id < before)
    rows = [dict(r._mapping) for r in conn.execute(query.limit(limit + 1))]
    for row in rows:
        row["at"] = iso(row["at"])
        row["detail"] = mask_cpr_in_text(row["detail"] or "")
        row["reason"] = mask_cpr_in_text(row["reason"] or "")
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], int(rows[limit - 1]["id"])
