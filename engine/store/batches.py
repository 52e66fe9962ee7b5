"""Batched writes for the hot path: each takes a list and runs a few executemany calls.

The writer groups whatever is pending into one transaction, so a batch of 500 messages
costs a handful of statements and a single commit (one fsync) instead of thousands.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, null, or_, select, update

from engine.pipeline.items import Claimed, ClaimRequest, Incoming, Outcome
from engine.store.audit import stage
from engine.store.bulk import Bulk, BulkInsert
from engine.store.medcom import mark_duplicates, record_receipts
from engine.store.schema import (
    OPEN_DELIVERY,
    DeliveryStatus,
    MessageStatus,
    attempts,
    contents,
    deliveries,
    messages,
)

SYSTEM = "kanal"


@dataclass(slots=True)
class Stored:
    message_id: int
    delivery_ids: list[int]
    duplicate_of: int | None = None  # MedCom: the earlier message with the same ids
    first_received_at: float | None = None


def _columns(table: Table, *left_out: str) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns if c.name not in ("id", *left_out))


_INSERT_MESSAGES = BulkInsert(messages, _columns(messages, "pruned_at"))
_INSERT_DELIVERIES = BulkInsert(deliveries, _columns(deliveries))
_INSERT_CONTENTS = BulkInsert(contents, _columns(contents))
_INSERT_ATTEMPTS = BulkInsert(attempts, _columns(attempts))
_FINISH_ATTEMPT = Bulk(
    update(deliveries)
    .where(deliveries.c.id == bindparam("did"))
    .values(
        status=bindparam("new_status"),
        attempts=bindparam("n"),
        next_attempt_at=bindparam("next_at"),
        lease_until=null(),
        last_error=bindparam("err"),
        updated_at=bindparam("now"),
    )
)
_RELEASE = Bulk(
    update(deliveries)
    .where(deliveries.c.id == bindparam("did"))
    .values(status=bindparam("queued"), lease_until=null())
)


def store_received(conn: Connection, items: list[Incoming]) -> list[Stored]:
    """Messages (raw content and metadata) with their queued deliveries, in one go."""
    mark_duplicates(conn, items)
    ids = _INSERT_MESSAGES.run_returning_ids(conn, [_message_row(item) for item in items])
    planned = [
        (mid, item, d)
        for mid, item in zip(ids, items, strict=True)
        if item.route is not None and not item.error
        for d in item.route.deliveries
    ]
    delivery_ids = _queue_deliveries(conn, planned)
    _INSERT_CONTENTS.run(
        conn,
        [
            {
                "message_id": mid,
                "delivery_id": None,
                "stage": "raw",
                "data": item.raw,
                "created_at": item.received_at,
            }
            for mid, item in zip(ids, items, strict=True)
        ]
        + [
            {
                "message_id": mid,
                "delivery_id": did,
                "stage": "transformed",
                "data": d.transformed,
                "created_at": item.received_at,
            }
            for did, (mid, item, d) in zip(delivery_ids, planned, strict=True)
            if d.transformed is not None
        ],
    )
    stage(  # inserted sealed, last in the transaction
        conn,
        [
            event
            for mid, item in zip(ids, items, strict=True)
            for event in _received_events(mid, item)
        ]
        + record_receipts(conn, items, ids),
    )
    by_message: dict[int, list[int]] = {mid: [] for mid in ids}
    for did, (mid, _, _) in zip(delivery_ids, planned, strict=True):
        by_message[mid].append(did)
    return [
        Stored(mid, by_message[mid], item.duplicate_of, item.first_received_at)
        for mid, item in zip(ids, items, strict=True)
    ]


def _message_row(item: Incoming) -> dict[str, Any]:
    meta = item.meta
    status = item.route.status if item.route is not None else MessageStatus.ERROR
    return {
        "channel": item.channel,
        "status": MessageStatus.ERROR if item.error else status,
        "format": meta.format,
        "type": meta.type[:64],
        "control_id": meta.control_id[:100],
        "sender": meta.sender[:200],
        "receiver": meta.receiver[:200],
        "cpr": meta.cpr,
        "envelope_id": meta.envelope_id,
        "version": meta.version[:16],
        "charset": meta.charset,
        "origin": item.origin[:200],
        "size": len(item.raw),
        "error": item.error,
        "received_at": item.received_at,
        "updated_at": item.received_at,
    }


def _queue_deliveries(conn: Connection, planned: list[tuple[int, Incoming, Any]]) -> list[int]:
    if not planned:
        return []
    return _INSERT_DELIVERIES.run_returning_ids(
        conn,
        [
            {
                "message_id": mid,
                "channel": item.channel,
                "destination": d.destination,
                "status": DeliveryStatus.QUEUED,
                "attempts": 0,
                "next_attempt_at": item.received_at,
                "lease_until": None,
                "last_error": None,
                "created_at": item.received_at,
                "updated_at": item.received_at,
                "correlation_id": d.correlation_id,
                "order_key": d.order_key,
                "receipt_resends": 0,
            }
            for mid, item, d in planned
        ],
    )


def _received_events(message_id: int, item: Incoming) -> list[dict[str, Any]]:
    """RECEIVED by the source, then the routing verdict (or why it is ERROR)."""
    received = {
        "at": item.received_at,
        "actor": f"source:{item.origin}",
        "action": "RECEIVED",
        "message_id": message_id,
        "delivery_id": None,
        "detail": "",
    }
    route = item.route
    if route is None:  # could not be parsed
        return [
            received,
            {
                **received,
                "actor": SYSTEM,
                "action": MessageStatus.ERROR,
                "detail": item.error or "",
            },
        ]
    detail = route.detail
    if route.deliveries and not item.error:
        detail = "to " + ", ".join(d.destination for d in route.deliveries)
    action = MessageStatus.ERROR if item.error else route.status
    return [received, {**received, "actor": SYSTEM, "action": action, "detail": detail}]


def claim_deliveries(conn: Connection, requests: list[ClaimRequest]) -> list[list[Claimed]]:
    return [_claim(conn, request) for request in requests]


def _claim(conn: Connection, request: ClaimRequest) -> list[Claimed]:
    """Take due deliveries (or ones whose lease ran out) for one destination, oldest first."""
    now = time.time()
    overdue = now - request.grace
    due = (
        select(deliveries.c.id)
        .where(
            deliveries.c.channel == request.channel,
            deliveries.c.destination == request.destination,
            or_(
                and_(
                    deliveries.c.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.RETRYING]),
                    deliveries.c.next_attempt_at <= overdue,
                ),
                and_(
                    deliveries.c.status == DeliveryStatus.SENDING,
                    deliveries.c.lease_until < overdue,
                ),
            ),
        )
        .order_by(deliveries.c.id)
        .limit(request.limit)
    )
    if request.ids:
        due = due.where(deliveries.c.id.in_(request.ids))
    if request.ordered:
        due = due.where(_first_open_of_its_key(request))
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(due.scalar_subquery()))
        .values(status=DeliveryStatus.SENDING, lease_until=now + request.lease, updated_at=now)
        .returning(
            deliveries.c.id, deliveries.c.message_id, deliveries.c.attempts, deliveries.c.created_at
        )
    ).all()
    return _with_payloads(conn, sorted(claimed)) if claimed else []


def _first_open_of_its_key(request: ClaimRequest) -> Any:
    """No earlier delivery with the same key is still open (queued, retrying, being sent):
    a failing one holds back only the deliveries of its own key."""
    earlier = deliveries.alias("earlier")
    blocking = (
        select(earlier.c.id)
        .where(
            earlier.c.channel == request.channel,
            earlier.c.destination == request.destination,
            earlier.c.order_key == deliveries.c.order_key,
            earlier.c.id < deliveries.c.id,
            earlier.c.status.in_(OPEN_DELIVERY),
        )
        .exists()
    )
    return or_(deliveries.c.order_key.is_(None), ~blocking)


def _with_payloads(conn: Connection, claimed: list[Any]) -> list[Claimed]:
    delivery_ids = [row.id for row in claimed]
    message_ids = list({row.message_id for row in claimed})
    stored = conn.execute(
        select(contents.c.message_id, contents.c.delivery_id, contents.c.stage, contents.c.data)
        .where(
            or_(
                and_(contents.c.delivery_id.in_(delivery_ids), contents.c.stage == "transformed"),
                and_(contents.c.message_id.in_(message_ids), contents.c.stage == "raw"),
            )
        )
        .order_by(contents.c.id)  # a delivery's latest transformed content is what goes out
    ).all()
    raw = {row.message_id: row.data for row in stored if row.stage == "raw"}
    transformed = {row.delivery_id: row.data for row in stored if row.stage == "transformed"}
    meta = {
        row.id: dict(row._mapping)
        for row in conn.execute(
            select(
                messages.c.id,
                messages.c.channel,
                messages.c.format,
                messages.c.type,
                messages.c.control_id,
                messages.c.sender,
                messages.c.receiver,
                messages.c.charset,
                messages.c.received_at,
            ).where(messages.c.id.in_(message_ids))
        )
    }
    return [
        Claimed(
            delivery_id=row.id,
            message_id=row.message_id,
            attempts=row.attempts,
            created_at=row.created_at,
            payload=transformed.get(row.id, raw[row.message_id]),
            message=meta[row.message_id],
        )
        for row in claimed
    ]


def record_outcomes(conn: Connection, outcomes: list[Outcome]) -> list[None]:
    """Record attempts, the deliveries' new states, responses and audit events."""
    now = time.time()
    _INSERT_ATTEMPTS.run(
        conn,
        [
            {
                "delivery_id": o.delivery_id,
                "number": o.attempts,
                "started_at": o.started_at,
                "duration_ms": o.duration_ms,
                "outcome": o.verdict,
                "detail": o.detail,
            }
            for o in outcomes
        ],
    )
    _FINISH_ATTEMPT.run(
        conn,
        [
            {
                "did": o.delivery_id,
                "new_status": o.status,
                "n": o.attempts,
                "next_at": o.next_attempt_at,
                "err": None if o.verdict == "ok" else o.detail,
                "now": now,
            }
            for o in outcomes
        ],
    )
    _INSERT_CONTENTS.run(
        conn,
        [
            {
                "message_id": o.message_id,
                "delivery_id": o.delivery_id,
                "stage": "response",
                "data": o.response,
                "created_at": now,
            }
            for o in outcomes
            if o.response
        ],
    )
    stage(  # inserted sealed, last in the transaction
        conn,
        [
            {
                "at": now,
                "actor": SYSTEM,
                "action": o.status,
                "message_id": o.message_id,
                "delivery_id": o.delivery_id,
                "detail": o.detail,
            }
            for o in outcomes
        ],
    )
    return [None] * len(outcomes)


def release_deliveries(conn: Connection, delivery_ids: list[int]) -> list[None]:
    """Put claimed deliveries back in the queue untouched (the destination is unreachable)."""
    _RELEASE.run(conn, [{"did": did, "queued": DeliveryStatus.QUEUED} for did in delivery_ids])
    return [None] * len(delivery_ids)
