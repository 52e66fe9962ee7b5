"""Batched writes for the hot path: each takes a list and runs a few executemany calls.

The writer groups whatever is pending into one transaction, so a batch of 500 messages
costs a handful of statements and a single commit (one fsync) instead of thousands.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)

from engine.pipeline.items import Claimed, ClaimRequest, Incoming, Outcome
from engine.store.audit import stage
from engine.store.bulk import Bulk, BulkInsert, Query
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
    """Lease up to `limit` due deliveries (or ones whose lease ran out) of one destination,
    the longest due first; they come back in id order, each with what it sends."""
    now = time.time()
    params = {
        "of_channel": request.channel,
        "of_destination": request.destination,
        "overdue": now - request.grace,
        "limit": request.limit,
        "until": now + request.lease,
        "now": now,
    }
    if request.ids:  # a list of ids: SQLAlchemy expands it, the driver's SQL cannot
        statement = _claim_update(request.ordered, by_ids=True)
        claimed = [tuple(row) for row in conn.execute(statement, {**params, "ids": request.ids})]
    else:
        claimed = _CLAIM[request.ordered].rows(conn, **params)
    if not claimed:
        return []
    mine = {row[0]: row for row in claimed}
    taken = _CLAIMED_PAYLOADS.rows(
        conn,
        of_channel=request.channel,
        of_destination=request.destination,
        until=params["until"],
    )
    return [
        Claimed(
            delivery_id=delivery_id,
            message_id=message_id,
            attempts=mine[delivery_id][2],
            created_at=mine[delivery_id][3],
            payload=raw if transformed is None else transformed,
            message=dict(zip(_MESSAGE_FIELDS, (message_id, *meta), strict=True)),
        )
        for delivery_id, message_id, raw, transformed, *meta in sorted(taken)
        if delivery_id in mine  # the same lease time by chance: another worker's
    ]


@functools.cache  # built once: SQLAlchemy then reuses its compiled form
def _claim_update(ordered: bool, by_ids: bool) -> Any:
    """UPDATE … RETURNING id, message_id, attempts, created_at of the due deliveries of
    :of_channel/:of_destination, at most :limit, leased until :until.

    Each of the three ways to be due is its own walk along ix_deliveries_queue that stops
    after :limit rows, so a claim reads a few rows however many were ever sent; one
    condition with an OR of the three could only use the index's channel and destination,
    and walked every delivery the destination ever had."""
    d = deliveries.c

    def candidates(status: str, due: Any, *order: Any) -> Any:
        query = select(d.id).where(
            d.channel == bindparam("of_channel"),
            d.destination == bindparam("of_destination"),
            d.status == literal(status),
            due,
        )
        if by_ids:
            query = query.where(d.id.in_(bindparam("ids", expanding=True)))
        if ordered:
            query = query.where(_first_open_of_its_key())
        first = query.order_by(*order).limit(bindparam("limit"))
        # FOR UPDATE: PostgreSQL workers skip each other's rows; SQLite has one writer
        return select(first.with_for_update(skip_locked=True).subquery().c.id)

    waiting = [
        candidates(status, d.next_attempt_at <= bindparam("overdue"), d.next_attempt_at, d.id)
        for status in (DeliveryStatus.QUEUED, DeliveryStatus.RETRYING)
    ]
    stuck = candidates(DeliveryStatus.SENDING, d.lease_until < bindparam("overdue"), d.id)
    union = union_all(*waiting, stuck).subquery()
    due = select(union.c.id).order_by(union.c.id).limit(bindparam("limit"))
    return (
        update(deliveries)
        .where(deliveries.c.id.in_(due.scalar_subquery()))
        .values(
            status=DeliveryStatus.SENDING,
            lease_until=bindparam("until"),
            updated_at=bindparam("now"),
        )
        .returning(
            deliveries.c.id, deliveries.c.message_id, deliveries.c.attempts, deliveries.c.created_at
        )
    )


def _first_open_of_its_key() -> Any:
    """No earlier delivery with the same key is still open (queued, retrying, being sent):
    a failing one holds back only the deliveries of its own key."""
    earlier = deliveries.alias("earlier")
    blocking = (
        select(earlier.c.id)
        .where(
            earlier.c.channel == bindparam("of_channel"),
            earlier.c.destination == bindparam("of_destination"),
            earlier.c.order_key == deliveries.c.order_key,
            earlier.c.id < deliveries.c.id,
            # one parameter a status: a plain list would be expanded when the statement
            # runs, which the driver's SQL (a Query) cannot do
            earlier.c.status.in_([literal(status) for status in OPEN_DELIVERY]),
        )
        .exists()
    )
    return or_(deliveries.c.order_key.is_(None), ~blocking)


def _latest_content(stage: str, owner: Any, owner_id: Any) -> Any:
    return (
        select(contents.c.data)
        .where(owner == owner_id, contents.c.stage == stage)
        .order_by(contents.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


_CLAIM = {ordered: Query(_claim_update(ordered, by_ids=False)) for ordered in (False, True)}
_MESSAGE_FIELDS = (
    "id", "channel", "format", "type", "control_id", "sender", "receiver", "charset",
    "received_at",
)  # fmt: skip
# What the deliveries a claim just leased carry: found by their lease time (one claim's
# `now`), so no list of ids goes into the SQL. A delivery's latest transformed content is
# what goes out, else its message's raw content.
_CLAIMED_PAYLOADS = Query(
    select(
        deliveries.c.id,
        deliveries.c.message_id,
        _latest_content("raw", contents.c.message_id, deliveries.c.message_id),
        _latest_content("transformed", contents.c.delivery_id, deliveries.c.id),
        *(messages.c[name] for name in _MESSAGE_FIELDS[1:]),
    )
    .join_from(deliveries, messages, messages.c.id == deliveries.c.message_id)
    .where(
        deliveries.c.channel == bindparam("of_channel"),
        deliveries.c.destination == bindparam("of_destination"),
        deliveries.c.status == DeliveryStatus.SENDING,
        deliveries.c.lease_until == bindparam("until"),
    )
)


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
