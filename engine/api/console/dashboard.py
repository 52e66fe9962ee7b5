"""The dashboard's numbers: per-channel counts (one grouped query) and the last hour's
throughput as SVG bars computed here, so the page needs no JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Integer, cast, func, literal, select, union_all

from engine.store.schema import DeliveryStatus, MessageStatus, deliveries, messages

WINDOW = 24 * 3600.0  # received, sent and errors count the last 24 hours
SENT = (DeliveryStatus.SENT, DeliveryStatus.ACKNOWLEDGED)
QUEUED = (DeliveryStatus.QUEUED, DeliveryStatus.RETRYING, DeliveryStatus.SENDING)
COLUMNS = ("received", "sent", "errors", "queued")


def channel_counts(conn: Connection, now: float) -> dict[str, dict[str, int]]:
    """Per channel: messages received and in ERROR, deliveries sent and DEAD (the last
    24 hours), and deliveries waiting to go (whenever they came)."""
    since = now - WINDOW
    parts = union_all(
        select(
            messages.c.channel,
            literal("received").label("kind"),
            messages.c.status.label("status"),
        ).where(messages.c.received_at >= since),
        select(deliveries.c.channel, literal("done"), deliveries.c.status).where(
            deliveries.c.updated_at >= since,
            deliveries.c.status.in_((*SENT, DeliveryStatus.DEAD)),
        ),
        select(deliveries.c.channel, literal("waiting"), deliveries.c.status).where(
            deliveries.c.status.in_(QUEUED)
        ),
    ).subquery()
    counts: dict[str, dict[str, int]] = {}
    for channel, kind, status, count in conn.execute(
        select(parts.c.channel, parts.c.kind, parts.c.status, func.count()).group_by(
            parts.c.channel, parts.c.kind, parts.c.status
        )
    ):
        row = counts.setdefault(channel, dict.fromkeys(COLUMNS, 0))
        if kind == "received":
            row["received"] += count
            if status == MessageStatus.ERROR:
                row["errors"] += count
        elif kind == "done":
            row["sent" if status in SENT else "errors"] += count
        else:
            row["queued"] += count
    return counts


def per_minute(conn: Connection, now: float, minutes: int = 60) -> list[int]:
    """Messages received in each of the last `minutes` minutes, oldest first."""
    start = now - minutes * 60
    bucket = cast((messages.c.received_at - start) / 60, Integer).label("bucket")
    counts = [0] * minutes
    for index, count in conn.execute(
        select(bucket, func.count()).where(messages.c.received_at >= start).group_by(bucket)
    ):
        if 0 <= int(index) < minutes:
            counts[int(index)] += int(count)
    return counts


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    minutes_ago: int


def bars(counts: list[int], width: float = 600, height: float = 120) -> dict[str, Any]:
    """Bars of an SVG chart of `counts` (a viewBox width wide, height high)."""
    top = max(counts, default=0) or 1
    step = width / max(len(counts), 1)
    drawn = [
        Bar(
            x=round(i * step + 1, 2),
            y=round(height - count / top * height, 2),
            width=round(max(step - 2, 1), 2),
            height=round(count / top * height, 2),
            count=count,
            minutes_ago=len(counts) - i,
        )
        for i, count in enumerate(counts)
    ]
    return {"bars": drawn, "width": width, "height": height, "top": top, "total": sum(counts)}
