"""Notices from the store: for deliveries queued again by hand, or for every open delivery
when the broker's copy was lost (`kanal queues rebuild`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from sqlalchemy import Engine, select

from engine.queue.publisher import Notice
from engine.store.operations import in_batches
from engine.store.schema import OPEN_DELIVERY, DeliveryStatus, deliveries


def open_deliveries(database: Engine, channel: str | None = None) -> list[int]:
    query = (
        select(deliveries.c.id)
        .where(deliveries.c.status.in_(OPEN_DELIVERY))
        .order_by(deliveries.c.id)
    )
    if channel:
        query = query.where(deliveries.c.channel == channel)
    with database.connect() as conn:
        return list(conn.execute(query).scalars())


def notices_for(database: Engine, ids: Iterable[int]) -> list[Notice]:
    """A notice for each of these deliveries that is still open, delayed until it is due."""
    now = time.time()
    query = select(
        deliveries.c.id,
        deliveries.c.channel,
        deliveries.c.destination,
        deliveries.c.status,
        deliveries.c.next_attempt_at,
        deliveries.c.lease_until,
    ).where(deliveries.c.id.in_(list(ids)), deliveries.c.status.in_(OPEN_DELIVERY))
    with database.connect() as conn:
        rows = conn.execute(query).all()
    return [
        (
            row.channel,
            row.destination,
            row.id,
            (row.lease_until if row.status == DeliveryStatus.SENDING else row.next_attempt_at)
            - now,
        )
        for row in rows
    ]


def announce(
    database: Engine,
    publish: Callable[[list[Notice]], int],
    ids: list[int],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Publish notices for `ids` in batches; how many deliveries were announced."""

    def batch(part: list[int]) -> int:
        return publish(notices_for(database, part))

    return in_batches(batch, ids, progress)
