"""What travels between the pipeline's stages, in memory and into the store."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.formats.metadata import Metadata
from engine.store.schema import DeliveryStatus


@dataclass(slots=True)
class PlannedDelivery:
    destination: str
    transformed: bytes | None  # None: the raw content goes out unchanged
    # MedCom: the id a receipt for what we send will name (envelope id; FHIR: the
    # MessageHeader.id), so an incoming receipt finds this delivery
    correlation_id: str | None = None
    order_key: str | None = None  # the destination's order_by: same key, same order


@dataclass(slots=True)
class Route:
    """The router's verdict for one message, committed together with the message."""

    status: str  # ROUTED | FILTERED | ERROR
    detail: str = ""
    deliveries: list[PlannedDelivery] = field(default_factory=list)


@dataclass(slots=True)
class Incoming:
    """One message as a source hands it over, before it is committed."""

    channel: str
    raw: bytes
    meta: Metadata
    origin: str
    received_at: float
    error: str | None = None  # set when the message could not be parsed: stored as ERROR
    parsed: Any = None  # the format's parsed object, reused by routing (never re-parsed)
    route: Route | None = None  # set by the router before the commit
    acknowledges: Any = None  # a MedCom receipt's verdict (ReceiptVerdict) on what we sent
    duplicate_of: int | None = None  # set at commit: an earlier message with the same ids
    first_received_at: float | None = None  # when that earlier message came
    settled: list[Settled] = field(default_factory=list)  # set at commit: what a receipt settled


@dataclass(slots=True, frozen=True)
class Settled:
    """A sent delivery moved after the fact: by a MedCom receipt (ACKNOWLEDGED, DEAD, or
    RETRYING when the partner asks for it again) or by the receipt watch (QUEUED when it
    sends the letter again, DEAD when it gives up)."""

    channel: str
    destination: str
    delivery_id: int
    status: str


def queued_again(settled: Iterable[Settled]) -> list[tuple[str, str, int]]:
    """(channel, destination, delivery id) of those to be sent again: for the workers."""
    again = (DeliveryStatus.QUEUED, DeliveryStatus.RETRYING)
    return [(s.channel, s.destination, s.delivery_id) for s in settled if s.status in again]


@dataclass(slots=True)
class ClaimRequest:
    channel: str
    destination: str
    limit: int
    lease: float
    ordered: bool = False  # hold back a delivery while an earlier one with its key is open
    ids: tuple[int, ...] = ()  # only these deliveries (the rabbitmq backend's notices)
    grace: float = 0.0  # only deliveries overdue by this long (the rabbitmq backend's sweep)


@dataclass(slots=True)
class Claimed:
    """A delivery taken from the queue by a worker, with what it needs to send it."""

    delivery_id: int
    message_id: int
    attempts: int
    created_at: float
    payload: bytes
    message: dict[str, Any]  # the message's stored metadata, for file names and headers


Verdict = Literal["ok", "transient", "fatal", "unreachable"]


@dataclass(slots=True)
class Outcome:
    """The result of one delivery attempt, to be recorded."""

    delivery_id: int
    message_id: int
    verdict: Verdict
    status: str  # the delivery's new status
    attempts: int  # counted attempts after this one
    started_at: float
    duration_ms: float
    detail: str = ""
    response: bytes | None = None
    next_attempt_at: float = 0.0
