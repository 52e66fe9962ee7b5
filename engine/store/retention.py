"""Content retention: the content stages of old, finished messages are deleted.

A channel's `retention` (e.g. "30d") says how long the content (raw, transformed,
response: the patient data) is kept. After that, once every delivery of the message is
finished (SENT, ACKNOWLEDGED, DEAD, CANCELLED), its `contents` rows go; the `messages`
row (metadata), its deliveries, attempts and audit events stay, and `messages.pruned_at`
says when the content went. A delivery still open (queued, retrying, being sent), or
sent and still waiting for a MedCom receipt (it may have to be sent again), keeps it.

Pruning goes a batch at a time, each batch its own short transaction with one audit
event (PRUNED), so the store is never held for long.

Why the check holds against a concurrent resend: the message rows are marked first, by
an UPDATE whose condition is that no delivery is open. On SQLite that UPDATE takes the
write lock, so nobody can change a delivery until the commit. On PostgreSQL the
deliveries are locked first (FOR UPDATE), so a resend waits for the commit, and the
UPDATE's condition then sees any resend that committed before. The other way round, a
resend locks the deliveries too, and its UPDATE, begun after any pruning that held them
committed, refuses a message whose content is gone (`engine.store.operations`).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, exists, or_, select, update

from engine.store.audit import event, seal, stage
from engine.store.schema import FINISHED_DELIVERY, DeliveryStatus, contents, deliveries, messages
from engine.timefmt import iso

SYSTEM = "kanal"
BATCH = 500  # messages per transaction at most

Position = tuple[float, int]  # (received_at, id): where a pass through a channel has got to


@dataclass(frozen=True)
class Batch:
    pruned: int  # messages whose content went
    contents: int  # content rows deleted
    scanned: int  # candidates looked at (old enough, not pruned yet)
    last: Position | None  # the last candidate looked at: the next batch starts after it
    held: Position | None  # the oldest candidate kept because a delivery is open


def prune_batch(
    conn: Connection,
    channel: str,
    before: float,
    *,
    after: Position | None = None,
    limit: int = BATCH,
    awaiting_receipt: Collection[str] = (),
    now: float | None = None,
) -> Batch:
    """Prune the content of up to `limit` messages of `channel` received before `before`,
    oldest first, after position `after`; the caller commits (one batch, one transaction).

    `awaiting_receipt`: the channel's destinations with a MedCom receipt policy, whose
    SENT deliveries are not finished yet (no receipt in time: the content is sent again).
    """
    now = time.time() if now is None else now
    query = select(messages.c.id, messages.c.received_at).where(
        messages.c.channel == channel,
        messages.c.received_at < before,
        messages.c.pruned_at.is_(None),
    )
    if after is not None:
        query = query.where(
            or_(
                messages.c.received_at > after[0],
                and_(messages.c.received_at == after[0], messages.c.id > after[1]),
            )
        )
    candidates = conn.execute(
        query.order_by(messages.c.received_at, messages.c.id).limit(limit)
    ).all()
    if not candidates:
        return Batch(0, 0, 0, None, None)
    ids = [int(r.id) for r in candidates]
    if conn.dialect.name != "sqlite":  # see the module's docstring
        conn.execute(
            select(deliveries.c.id)
            .where(deliveries.c.message_id.in_(ids))
            .order_by(deliveries.c.id)
            .with_for_update()
        ).all()
    still_open = or_(
        deliveries.c.status.not_in(FINISHED_DELIVERY),
        and_(
            deliveries.c.status == DeliveryStatus.SENT,
            deliveries.c.destination.in_(list(awaiting_receipt)),
        ),
    )
    open_delivery = exists().where(deliveries.c.message_id == messages.c.id, still_open)
    pruned = set(
        conn.execute(
            update(messages)
            .where(messages.c.id.in_(ids), messages.c.pruned_at.is_(None), ~open_delivery)
            .values(pruned_at=now)
            .returning(messages.c.id)
        ).scalars()
    )
    held = next(((float(r.received_at), int(r.id)) for r in candidates if r.id not in pruned), None)
    last = (float(candidates[-1].received_at), int(candidates[-1].id))
    if not pruned:
        return Batch(0, 0, len(candidates), last, held)
    removed = conn.execute(delete(contents).where(contents.c.message_id.in_(sorted(pruned))))
    detail = (
        f"channel {channel}: content of {len(pruned)} message(s) received before"
        f" {iso(before)} deleted (retention); ids {min(pruned)}..{max(pruned)}"
    )
    stage(conn, [event(SYSTEM, "PRUNED", detail, at=now)])
    seal(conn)  # the audit event joins the chain; last in the transaction
    return Batch(len(pruned), removed.rowcount, len(candidates), last, held)
