"""MedCom's rules at commit time, in the receiving transaction.

- A letter, envelope or Bundle seen before on the channel (same format, sender, envelope
  id and letter/MessageHeader id, not ERROR) is a duplicate: stored for the record, not
  delivered again, and answered with the receipt the first one got.
- A receipt names something we sent: the deliveries it names become ACKNOWLEDGED, or DEAD
  (refused), or RETRYING (FHIR transient-error: MedCom says send again).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from engine.pipeline.items import Incoming, Route, Settled
from engine.store.schema import DeliveryStatus, MessageStatus, deliveries, messages

MEDCOM_FORMATS = frozenset({"edifact", "xml", "fhir"})
SYSTEM = "kanal"


# Built once: the statement is the same for every letter, only its values differ
_EARLIER = (
    select(messages.c.id, messages.c.received_at)
    .where(
        messages.c.envelope_id == bindparam("envelope_id"),
        messages.c.channel == bindparam("channel"),
        messages.c.format == bindparam("format"),
        messages.c.sender == bindparam("sender"),
        messages.c.control_id == bindparam("control_id"),
        messages.c.status != MessageStatus.ERROR,
    )
    .order_by(messages.c.id)
    .limit(1)
)


def mark_duplicates(conn: Connection, items: list[Incoming]) -> None:
    for item in items:
        meta = item.meta
        if item.error or meta.format not in MEDCOM_FORMATS or not meta.envelope_id:
            continue
        earlier = conn.execute(
            _EARLIER,
            {
                "envelope_id": meta.envelope_id,
                "channel": item.channel,
                "format": meta.format,
                "sender": meta.sender[:200],
                "control_id": meta.control_id[:100],
            },
        ).first()
        if earlier is not None:
            item.duplicate_of, item.first_received_at = earlier.id, earlier.received_at
            item.route = Route(MessageStatus.FILTERED, f"duplicate of message {earlier.id}")


def record_receipts(
    conn: Connection, items: list[Incoming], ids: list[int]
) -> list[dict[str, Any]]:
    """Apply each receipt's verdict to the deliveries it names (listed in the receipt's
    `settled`); their audit events."""
    events: list[dict[str, Any]] = []
    for message_id, item in zip(ids, items, strict=True):
        item.settled = []  # a commit that is retried starts over
        verdict = item.acknowledges
        if verdict is None or item.duplicate_of is not None or not verdict.refers_to:
            continue
        status, why = _outcome(verdict)
        named = conn.execute(
            select(deliveries.c.id, deliveries.c.channel, deliveries.c.destination).where(
                deliveries.c.correlation_id == verdict.refers_to,
                deliveries.c.status.in_([DeliveryStatus.SENT, DeliveryStatus.SENDING]),
            )
        ).all()
        for delivery_id, channel, destination in named:
            item.settled.append(Settled(channel, destination, delivery_id, status))
            values: dict[str, Any] = {"status": status, "updated_at": item.received_at}
            if status == DeliveryStatus.RETRYING:
                values["next_attempt_at"] = item.received_at
            if status != DeliveryStatus.ACKNOWLEDGED:
                values["last_error"] = why
            conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(values))
            events.append(
                {
                    "at": item.received_at,
                    "actor": SYSTEM,
                    "action": status,
                    "message_id": None,
                    "delivery_id": delivery_id,
                    "detail": f"{why} (receipt: message {message_id})",
                }
            )
    return events


def _outcome(verdict: Any) -> tuple[str, str]:
    kind = verdict.kind
    if verdict.positive:
        return DeliveryStatus.ACKNOWLEDGED, f"{kind}: received by the partner"
    reason = " ".join(p for p in (verdict.refusal_code or verdict.response_code, verdict.text) if p)
    if verdict.resend:
        return DeliveryStatus.RETRYING, f"{kind}: {reason}: sending again"
    return DeliveryStatus.DEAD, f"{kind}: refused: {reason}"
