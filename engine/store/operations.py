"""What integration staff do to deliveries: resend (one message, or every match of a query,
in batches) and cancel. Each change is an audit event naming who did it, the state the
delivery was in (detail) and why (reason, as the person gave it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, select, update

from engine.store.audit import event, seal, stage
from engine.store.schema import FINISHED_DELIVERY, DeliveryStatus, deliveries, messages

# What may be sent again: finished or given up. Deliveries still queued, retrying or
# being sent are in flight already.
RESENDABLE = FINISHED_DELIVERY
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
    return _change(
        conn,
        ids,
        RESENDABLE,
        {"status": DeliveryStatus.QUEUED, "attempts": 0, "lease_until": None},
        "RESEND",
        actor,
        reason,
        only_if=_CONTENT_KEPT,
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


# The delivery's message still has its content (retention has not pruned it)
_CONTENT_KEPT = exists().where(
    messages.c.id == deliveries.c.message_id, messages.c.pruned_at.is_(None)
)


def _change(
    conn: Connection,
    ids: list[int],
    allowed: tuple[str, ...],
    values: dict[str, Any],
    action: str,
    actor: str,
    reason: str,
    only_if: ColumnElement[bool] | None = None,
) -> int:
    """Change those of `ids` in an `allowed` state (and meeting `only_if`); how many.

    The UPDATE checks every condition itself, and only the deliveries it changed are
    audited. On PostgreSQL the deliveries are locked first (FOR UPDATE, in id order, as
    retention locks them): a retention pass that holds them is waited for, and the
    UPDATE, a statement begun after its commit, then sees what it pruned.
    """
    if not ids:
        return 0
    now = time.time()
    conditions = [deliveries.c.status.in_(allowed)] + ([] if only_if is None else [only_if])
    before = {
        r.id: r
        for r in conn.execute(
            select(deliveries.c.id, deliveries.c.message_id, deliveries.c.status)
            .where(deliveries.c.id.in_(ids), *conditions)
            .order_by(deliveries.c.id)
            .with_for_update(of=deliveries)
        )
    }
    if not before:
        return 0
    changed = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(list(before)), *conditions)
        .values(**values, next_attempt_at=now, updated_at=now)
        .returning(deliveries.c.id)
    ).scalars()
    rows = [before[i] for i in sorted(changed)]
    stage(
        conn,
        [
            event(
                actor,
                action,
                f"was {r.status}",
                at=now,
                message_id=r.message_id,
                delivery_id=r.id,
                reason=reason,
            )
            for r in rows
        ],
    )
    seal(conn)  # the last statement of every caller's transaction
    return len(rows)
