"""Batched writes for the hot path: each takes a list and runs a few executemany calls.

The writer groups whatever is pending into one transaction, so a batch of 500 messages
costs a handful of statements and a single commit (one fsync) instead of thousands.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update

from engine.pipeline.items import Claimed, ClaimRequest, Committed, Incoming, Outcome, Route
from engine.store.schema import (
    DeliveryStatus,
    MessageStatus,
    attempts,
    audit_events,
    contents,
    deliveries,
    messages,
)

SYSTEM = "kanal"


def insert_messages(conn: Connection, items: list[Incoming]) -> list[Committed]:
    """Store raw messages with their metadata (status RECEIVED, or ERROR if unparseable)."""
    rows = [_message_row(item) for item in items]
    result = conn.execute(
        insert(messages).returning(messages.c.id, sort_by_parameter_order=True), rows
    )
    ids = [row[0] for row in result]
    conn.execute(
        insert(contents),
        [
            {"message_id": mid, "delivery_id": None, "stage": "raw", "data": item.raw,
             "created_at": item.received_at}
            for mid, item in zip(ids, items, strict=True)
        ],
    )
    conn.execute(
        insert(audit_events),
        [
            {"at": item.received_at, "actor": f"source:{item.origin}",
             "action": row["status"], "message_id": mid, "delivery_id": None,
             "detail": item.error or ""}
            for mid, item, row in zip(ids, items, rows, strict=True)
        ],
    )
    return [Committed(mid, item) for mid, item in zip(ids, items, strict=True)]


def _message_row(item: Incoming) -> dict[str, Any]:
    meta = item.meta
    return {
        "channel": item.channel,
        "status": MessageStatus.ERROR if item.error else MessageStatus.RECEIVED,
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


def apply_routes(conn: Connection, routes: list[Route]) -> list[list[int]]:
    """Set each message's routing status and queue its deliveries; returns delivery ids."""
    now = time.time()
    conn.execute(
        update(messages)
        .where(messages.c.id == bindparam("mid"))
        .values(status=bindparam("new_status"), error=bindparam("err"), updated_at=now),
        [
            {"mid": r.message_id, "new_status": r.status,
             "err": r.detail if r.status == MessageStatus.ERROR else None}
            for r in routes
        ],
    )
    planned = [(r, d) for r in routes for d in r.deliveries]
    ids: list[int] = []
    if planned:
        result = conn.execute(
            insert(deliveries).returning(deliveries.c.id, sort_by_parameter_order=True),
            [
                {"message_id": r.message_id, "channel": r.channel, "destination": d.destination,
                 "status": DeliveryStatus.QUEUED, "attempts": 0, "next_attempt_at": now,
                 "lease_until": None, "last_error": None, "created_at": now, "updated_at": now}
                for r, d in planned
            ],
        )
        ids = [row[0] for row in result]
        transformed = [
            {"message_id": r.message_id, "delivery_id": did, "stage": "transformed",
             "data": d.transformed, "created_at": now}
            for did, (r, d) in zip(ids, planned, strict=True)
            if d.transformed is not None
        ]
        if transformed:
            conn.execute(insert(contents), transformed)
    conn.execute(
        insert(audit_events),
        [
            {"at": now, "actor": SYSTEM, "action": r.status, "message_id": r.message_id,
             "delivery_id": None, "detail": _route_detail(r)}
            for r in routes
        ],
    )
    by_message: dict[int, list[int]] = {r.message_id: [] for r in routes}
    for did, (r, _) in zip(ids, planned, strict=True):
        by_message[r.message_id].append(did)
    return [by_message[r.message_id] for r in routes]


def _route_detail(route: Route) -> str:
    if route.deliveries:
        return "to " + ", ".join(d.destination for d in route.deliveries)
    return route.detail


def claim_deliveries(conn: Connection, requests: list[ClaimRequest]) -> list[list[Claimed]]:
    return [_claim(conn, request) for request in requests]


def _claim(conn: Connection, request: ClaimRequest) -> list[Claimed]:
    """Take due deliveries (or ones whose lease ran out) for one destination, oldest first."""
    now = time.time()
    due = (
        select(deliveries.c.id)
        .where(
            deliveries.c.channel == request.channel,
            deliveries.c.destination == request.destination,
            or_(
                and_(
                    deliveries.c.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.RETRYING]),
                    deliveries.c.next_attempt_at <= now,
                ),
                and_(deliveries.c.status == DeliveryStatus.SENDING,
                     deliveries.c.lease_until < now),
            ),
        )
        .order_by(deliveries.c.id)
        .limit(request.limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(due.scalar_subquery()))
        .values(status=DeliveryStatus.SENDING, lease_until=now + request.lease, updated_at=now)
        .returning(deliveries.c.id, deliveries.c.message_id, deliveries.c.attempts,
                   deliveries.c.created_at)
    ).all()
    if not claimed:
        return []
    claimed.sort()
    return _with_payloads(conn, claimed)


def _with_payloads(conn: Connection, claimed: list[Any]) -> list[Claimed]:
    delivery_ids = [row.id for row in claimed]
    message_ids = list({row.message_id for row in claimed})
    stored = conn.execute(
        select(contents.c.message_id, contents.c.delivery_id, contents.c.stage, contents.c.data)
        .where(
            or_(
                and_(contents.c.delivery_id.in_(delivery_ids),
                     contents.c.stage == "transformed"),
                and_(contents.c.message_id.in_(message_ids), contents.c.stage == "raw"),
            )
        )
    ).all()
    raw = {row.message_id: row.data for row in stored if row.stage == "raw"}
    transformed = {row.delivery_id: row.data for row in stored if row.stage == "transformed"}
    meta = {
        row.id: dict(row._mapping)
        for row in conn.execute(
            select(messages.c.id, messages.c.channel, messages.c.format, messages.c.type,
                   messages.c.control_id, messages.c.sender, messages.c.receiver,
                   messages.c.charset, messages.c.received_at)
            .where(messages.c.id.in_(message_ids))
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
    conn.execute(
        insert(attempts),
        [
            {"delivery_id": o.delivery_id, "number": o.attempts, "started_at": o.started_at,
             "duration_ms": o.duration_ms, "outcome": o.verdict, "detail": o.detail}
            for o in outcomes
        ],
    )
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == bindparam("did"))
        .values(
            status=bindparam("new_status"),
            attempts=bindparam("n"),
            next_attempt_at=bindparam("next_at"),
            lease_until=None,
            last_error=bindparam("err"),
            updated_at=now,
        ),
        [
            {"did": o.delivery_id, "new_status": o.status, "n": o.attempts,
             "next_at": o.next_attempt_at, "err": None if o.verdict == "ok" else o.detail}
            for o in outcomes
        ],
    )
    responses = [
        {"message_id": o.message_id, "delivery_id": o.delivery_id, "stage": "response",
         "data": o.response, "created_at": now}
        for o in outcomes
        if o.response
    ]
    if responses:
        conn.execute(insert(contents), responses)
    conn.execute(
        insert(audit_events),
        [
            {"at": now, "actor": SYSTEM, "action": o.status, "message_id": o.message_id,
             "delivery_id": o.delivery_id, "detail": o.detail}
            for o in outcomes
        ],
    )
    return [None] * len(outcomes)


def release_deliveries(conn: Connection, delivery_ids: list[int]) -> list[None]:
    """Put claimed deliveries back in the queue untouched (the destination is unreachable)."""
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == bindparam("did"))
        .values(status=DeliveryStatus.QUEUED, lease_until=None),
        [{"did": did} for did in delivery_ids],
    )
    return [None] * len(delivery_ids)
