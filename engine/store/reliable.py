"""MedCom reliable messaging, outbound: deliveries sent but not receipted in time are sent
again (the letter in a new envelope) a few times, then given up as DEAD.

`send_again` and `give_up` stage audit events: the caller seals them
(`engine.store.audit.seal`) at the end of its transaction, after the last of them; an
unsealed transaction loses them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from engine.store.audit import event, stage
from engine.store.schema import DeliveryStatus, contents, deliveries

SYSTEM = "kanal"


@dataclass(frozen=True)
class Overdue:
    delivery_id: int
    message_id: int
    resends: int
    payload: bytes  # what was sent last


def overdue(
    conn: Connection, channel: str, destination: str, sent_before: float, limit: int = 100
) -> list[Overdue]:
    """Sent, waiting for a receipt, and sent before `sent_before`."""
    rows = conn.execute(
        select(deliveries.c.id, deliveries.c.message_id, deliveries.c.receipt_resends)
        .where(
            deliveries.c.channel == channel,
            deliveries.c.destination == destination,
            deliveries.c.status == DeliveryStatus.SENT,
            deliveries.c.correlation_id.is_not(None),
            deliveries.c.updated_at < sent_before,
        )
        .order_by(deliveries.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return []
    stored = conn.execute(
        select(contents.c.message_id, contents.c.delivery_id, contents.c.data)
        .where(
            or_(
                and_(
                    contents.c.delivery_id.in_([r.id for r in rows]),
                    contents.c.stage == "transformed",
                ),
                and_(
                    contents.c.message_id.in_([r.message_id for r in rows]),
                    contents.c.stage == "raw",
                ),
            )
        )
        .order_by(contents.c.id)
    ).all()
    raw = {s.message_id: s.data for s in stored if s.delivery_id is None}
    latest = {s.delivery_id: s.data for s in stored if s.delivery_id is not None}
    return [
        Overdue(r.id, r.message_id, r.receipt_resends, latest.get(r.id, raw[r.message_id]))
        for r in rows
    ]


def send_again(
    conn: Connection,
    item: Overdue,
    payload: bytes,
    correlation_id: str | None,
    now: float,
    why: str,
) -> bool:
    """Queue the delivery again with `payload`; a new `correlation_id` (the new envelope
    id) for its receipt to name, or None to keep the old one. False if it moved on since
    `overdue` read it (a receipt came, or another process resent it): nothing written."""
    if not _move(
        conn,
        item,
        status=DeliveryStatus.QUEUED,
        next_attempt_at=now,
        receipt_resends=item.resends + 1,
        updated_at=now,
        **({"correlation_id": correlation_id} if correlation_id else {}),
    ):
        return False
    conn.execute(
        insert(contents).values(
            message_id=item.message_id,
            delivery_id=item.delivery_id,
            stage="transformed",
            data=payload,
            created_at=now,
        )
    )
    _audit(conn, item, "RESEND", why, now)
    return True


def give_up(conn: Connection, item: Overdue, now: float, why: str) -> bool:
    """The delivery DEAD for want of a receipt; False if it moved on meanwhile."""
    if not _move(conn, item, status=DeliveryStatus.DEAD, last_error=why, updated_at=now):
        return False
    _audit(conn, item, DeliveryStatus.DEAD, why, now)
    return True


def _move(conn: Connection, item: Overdue, **values: Any) -> bool:
    """Change the delivery only if it is as `overdue` found it (still SENT, resent as often)."""
    moved = conn.execute(
        update(deliveries)
        .where(
            deliveries.c.id == item.delivery_id,
            deliveries.c.status == DeliveryStatus.SENT,
            deliveries.c.receipt_resends == item.resends,
        )
        .values(**values)
    )
    return moved.rowcount == 1


def _audit(conn: Connection, item: Overdue, action: str, detail: str, now: float) -> None:
    stage(
        conn,
        [
            event(
                SYSTEM,
                action,
                detail,
                at=now,
                message_id=item.message_id,
                delivery_id=item.delivery_id,
            )
        ],
    )
