"""What integration staff do to deliveries: resend (one message, or every match of a query,
in batches) and cancel. Each change is an audit event naming who did it and why."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from engine.store.audit import event, seal, stage
from engine.store.schema import DeliveryStatus, deliveries, messages

# What may be sent again: finished or given up. Deliveries still queued, retrying or
# being sent are in flight already.
RESENDABLE = (
    DeliveryStatus.DEAD,
    DeliveryStatus.CANCELLED,
    DeliveryStatus.SENT,
    DeliveryStatus.ACKNOWLEDGED,
)
CANCELLABLE = (DeliveryStatus.QUEUED, DeliveryStatus.RETRYING)
BATCH = 200


@dataclass(frozen=True)
class DeliveryQuery:
    """Which deliveries a bulk operation touches; every given field must match."""

    status: str = DeliveryStatus.DEAD
    channel: str | None = None
    destination: str | None = None
    message_id: int | None = None
    since: float | None = None  # message received at or after
    until: float | None = None


def matching(conn: Connection, query: DeliveryQuery, allowed: tuple[str, ...]) -> list[int]:
    status = query.status.upper()
    if status not in allowed:
        raise ValueError(f"deliveries in {status} cannot be changed; only {', '.join(allowed)}")
    select_ids = (
        select(deliveries.c.id)
        .join(messages, messages.c.id == deliveries.c.message_id)
        .where(deliveries.c.status == status)
        .order_by(deliveries.c.id)
    )
    for column, value in (
        (deliveries.c.channel, query.channel),
        (deliveries.c.destination, query.destination),
        (deliveries.c.message_id, query.message_id),
    ):
        if value is not None:
            select_ids = select_ids.where(column == value)
    if query.since is not None:
        select_ids = select_ids.where(messages.c.received_at >= query.since)
    if query.until is not None:
        select_ids = select_ids.where(messages.c.received_at < query.until)
    return list(conn.execute(select_ids).scalars())


def resend(conn: Connection, ids: list[int], actor: str, reason: str = "") -> int:
    """Queue these deliveries again, now, with a fresh attempt count. A message whose
    content retention has pruned cannot be sent again: its deliveries are left alone."""
    pruned_messages = select(messages.c.id).where(messages.c.pruned_at.is_not(None))
    pruned = set(
        conn.execute(
            select(deliveries.c.id).where(
                deliveries.c.id.in_(ids), deliveries.c.message_id.in_(pruned_messages)
            )
        ).scalars()
    )
    return _change(
        conn,
        [i for i in ids if i not in pruned],
        RESENDABLE,
        {"status": DeliveryStatus.QUEUED, "attempts": 0, "lease_until": None},
        "RESEND",
        actor,
        reason,
    )


def cancel(conn: Connection, ids: list[int], actor: str, reason: str = "") -> int:
    return _change(
        conn, ids, CANCELLABLE, {"status": DeliveryStatus.CANCELLED}, "CANCELLED", actor, reason
    )


def in_batches(
    run: Callable[[list[int]], int], ids: list[int], progress: Callable[[int], None] | None = None
) -> int:
    """`run` over `ids` a batch at a time (each its own transaction: a long bulk resend
    never holds the store), reporting progress after each."""
    done = 0
    for start in range(0, len(ids), BATCH):
        done += run(ids[start : start + BATCH])
        if progress is not None:
            progress(min(start + BATCH, len(ids)))
    return done


def message_deliveries(
    conn: Connection, message_id: int, allowed: tuple[str, ...], destination: str | None = None
) -> list[int]:
    """A message's deliveries (to one destination, if given) in one of the allowed states."""
    query = select(deliveries.c.id).where(
        deliveries.c.message_id == message_id, deliveries.c.status.in_(allowed)
    )
    if destination is not None:
        query = query.where(deliveries.c.destination == destination)
    return list(conn.execute(query).scalars())


def _change(
    conn: Connection,
    ids: list[int],
    allowed: tuple[str, ...],
    values: dict[str, Any],
    action: str,
    actor: str,
    reason: str,
) -> int:
    if not ids:
        return 0
    now = time.time()
    rows = conn.execute(
        select(deliveries.c.id, deliveries.c.message_id, deliveries.c.status).where(
            deliveries.c.id.in_(ids), deliveries.c.status.in_(allowed)
        )
    ).all()
    if not rows:
        return 0
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_([r.id for r in rows]), deliveries.c.status.in_(allowed))
        .values(**values, next_attempt_at=now, updated_at=now)
    )
    stage(
        conn,
        [
            event(
                actor,
                action,
                f"was {r.status}" + (f": {reason}" if reason else ""),
                at=now,
                message_id=r.message_id,
                delivery_id=r.id,
            )
            for r in rows
        ],
    )
    seal(conn)  # the last statement of every caller's transaction
    return len(rows)
