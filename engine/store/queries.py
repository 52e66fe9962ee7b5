"""Reads: message search, one message in full, per-channel counts, work to resume."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from engine.store.schema import (
    DeliveryStatus,
    MessageStatus,
    attempts,
    audit_events,
    contents,
    deliveries,
    messages,
)
from engine.timefmt import parse_time

MESSAGE_STATUSES = frozenset(v for k, v in vars(MessageStatus).items() if k.isupper())
DELIVERY_STATUSES = frozenset(v for k, v in vars(DeliveryStatus).items() if k.isupper())


@dataclass(frozen=True)
class SearchFilter:
    cpr: str | None = None
    sender: str | None = None
    receiver: str | None = None
    type: str | None = None
    status: str | None = None
    channel: str | None = None
    since: float | None = None
    until: float | None = None
    before_id: int | None = None  # cursor: newest first, page after this id
    limit: int = 50

    def __post_init__(self) -> None:
        known = MESSAGE_STATUSES | DELIVERY_STATUSES
        if self.status and self.status.upper() not in known:
            raise ValueError(f"status {self.status!r}: one of {', '.join(sorted(known))}")


SUMMARY_COLUMNS = (
    messages.c.id,
    messages.c.channel,
    messages.c.status,
    messages.c.format,
    messages.c.type,
    messages.c.control_id,
    messages.c.sender,
    messages.c.receiver,
    messages.c.cpr,
    messages.c.received_at,
    messages.c.error,
)


def parse_filter(
    cpr: str | None = None,
    sender: str | None = None,
    receiver: str | None = None,
    type: str | None = None,
    status: str | None = None,
    channel: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 50,
    cursor: int | None = None,
) -> SearchFilter:
    """The filters as a person types them (times as ISO-8601 or '2h' ago; empty means not
    given); ValueError says which one is wrong. The CLI, the API and the console use it."""
    return SearchFilter(
        cpr=cpr or None,
        sender=sender or None,
        receiver=receiver or None,
        type=type or None,
        status=status or None,
        channel=channel or None,
        since=parse_time(since) if since else None,
        until=parse_time(until) if until else None,
        before_id=cursor,
        limit=limit,
    )


def search_messages(conn: Connection, where: SearchFilter) -> list[dict[str, Any]]:
    # Newest by received_at (id breaks ties): every filter's index is (column, received_at),
    # so a search reads only its page instead of sorting every match (1,000,000 messages).
    query = (
        select(*SUMMARY_COLUMNS)
        .order_by(messages.c.received_at.desc(), messages.c.id.desc())
        .limit(where.limit)
    )
    status = where.status.upper() if where.status else None
    for column, value in (
        (messages.c.cpr, where.cpr.replace("-", "") if where.cpr else None),
        (messages.c.sender, where.sender),
        (messages.c.receiver, where.receiver),
        (messages.c.type, where.type),
        (messages.c.status, status if status in MESSAGE_STATUSES else None),
        (messages.c.channel, where.channel),
    ):
        if value:
            query = query.where(column == value)
    if status in DELIVERY_STATUSES:  # messages with a delivery in that state (DEAD …)
        having = select(deliveries.c.message_id).where(deliveries.c.status == status)
        query = query.where(messages.c.id.in_(having))
    if where.since is not None:
        query = query.where(messages.c.received_at >= where.since)
    if where.until is not None:
        query = query.where(messages.c.received_at < where.until)
    if where.before_id is not None:  # the page after that message, in the same order
        cursor_at = (
            select(messages.c.received_at).where(messages.c.id == where.before_id).scalar_subquery()
        )
        query = query.where(
            or_(
                messages.c.received_at < cursor_at,
                and_(messages.c.received_at == cursor_at, messages.c.id < where.before_id),
            )
        )
    return [dict(row._mapping) for row in conn.execute(query)]


def message_detail(conn: Connection, message_id: int) -> dict[str, Any] | None:
    """Everything about one message: metadata, content stages, deliveries, attempts, audit."""
    row = conn.execute(select(messages).where(messages.c.id == message_id)).first()
    if row is None:
        return None
    detail = dict(row._mapping)
    detail["contents"] = [
        dict(r._mapping)
        for r in conn.execute(
            select(contents.c.stage, contents.c.delivery_id, contents.c.data, contents.c.created_at)
            .where(contents.c.message_id == message_id)
            .order_by(contents.c.id)
        )
    ]
    delivery_rows = conn.execute(
        select(deliveries).where(deliveries.c.message_id == message_id).order_by(deliveries.c.id)
    ).all()
    detail["deliveries"] = []
    for delivery in delivery_rows:
        item = dict(delivery._mapping)
        item["attempt_log"] = [
            dict(a._mapping)
            for a in conn.execute(
                select(
                    attempts.c.number,
                    attempts.c.started_at,
                    attempts.c.duration_ms,
                    attempts.c.outcome,
                    attempts.c.detail,
                )
                .where(attempts.c.delivery_id == delivery.id)
                .order_by(attempts.c.id)
            )
        ]
        detail["deliveries"].append(item)
    detail["audit"] = [
        dict(a._mapping)
        for a in conn.execute(
            select(
                audit_events.c.at,
                audit_events.c.actor,
                audit_events.c.action,
                audit_events.c.delivery_id,
                audit_events.c.detail,
                audit_events.c.reason,
            )
            .where(audit_events.c.message_id == message_id)
            .order_by(audit_events.c.id)
        )
    ]
    return detail


def channel_summary(conn: Connection, since: float = 0.0) -> dict[str, dict[str, int]]:
    """Per channel: received, errors, filtered, and deliveries by status."""
    summary: dict[str, dict[str, int]] = {}
    for channel, status, count in conn.execute(
        select(messages.c.channel, messages.c.status, func.count())
        .where(messages.c.received_at >= since)
        .group_by(messages.c.channel, messages.c.status)
    ):
        row = summary.setdefault(channel, {})
        row["received"] = row.get("received", 0) + count
        row[f"message_{status.lower()}"] = count
    for channel, status, count in conn.execute(
        select(deliveries.c.channel, deliveries.c.status, func.count())
        .where(deliveries.c.created_at >= since)
        .group_by(deliveries.c.channel, deliveries.c.status)
    ):
        summary.setdefault(channel, {})[f"delivery_{status.lower()}"] = count
    return summary
