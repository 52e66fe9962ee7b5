"""The store's tables: one set for all channels (no table per channel).

Times are UTC epoch seconds (float): cheap to write on the hot path, trivially indexed,
and rendered as ISO-8601 wherever a person reads them.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT ids.
Id = BigInteger().with_variant(Integer(), "sqlite")

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(100), nullable=False),
    Column("status", String(16), nullable=False),
    Column("format", String(16), nullable=False),
    Column("type", String(64), nullable=False, default=""),
    Column("control_id", String(100), nullable=False, default=""),
    Column("sender", String(200), nullable=False, default=""),
    Column("receiver", String(200), nullable=False, default=""),
    Column("cpr", String(10)),
    Column("envelope_id", String(100)),
    Column("version", String(16), nullable=False, default=""),
    Column("charset", String(32), nullable=False, default=""),
    Column("origin", String(200), nullable=False, default=""),
    Column("size", Integer, nullable=False),
    Column("error", Text),
    Column("received_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("pruned_at", Float),  # content retention removed its content stages then
    Index("ix_messages_channel_received", "channel", "received_at"),
    Index("ix_messages_received", "received_at"),
    Index("ix_messages_cpr", "cpr", "received_at"),
    Index("ix_messages_sender", "sender", "received_at"),
    Index("ix_messages_receiver", "receiver", "received_at"),
    Index("ix_messages_type", "type", "received_at"),
    Index("ix_messages_status", "status", "received_at"),
    Index("ix_messages_envelope", "envelope_id"),  # MedCom duplicates and receipts
)

# Content stages, as in Mirth: raw (as received), transformed (per destination, after its
# mapping), response (what the destination answered). What was sent is the transformed
# content, or the raw content where the destination has no mapping.
contents = Table(
    "contents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", BigInteger, ForeignKey("messages.id"), nullable=False),
    Column("delivery_id", BigInteger, ForeignKey("deliveries.id")),
    Column("stage", String(16), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_contents_message", "message_id"),
    Index("ix_contents_delivery", "delivery_id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", BigInteger, ForeignKey("messages.id"), nullable=False),
    Column("channel", String(100), nullable=False),
    Column("destination", String(100), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_until", Float),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("correlation_id", String(100)),  # what a MedCom receipt for it will name
    Column("order_key", String(200)),  # deliveries with one key go out in order
    # MedCom reliable messaging: times sent again because no receipt came
    Column("receipt_resends", Integer, nullable=False, server_default="0"),
    Index("ix_deliveries_queue", "channel", "destination", "status", "next_attempt_at"),
    Index("ix_deliveries_message", "message_id"),
    Index("ix_deliveries_correlation", "correlation_id"),
    Index("ix_deliveries_order", "channel", "destination", "order_key"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger, ForeignKey("deliveries.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_attempts_delivery", "delivery_id"),
)

# Append-only: the application never updates or deletes these rows. Each is chained to
# the one before it (seq order): hash = sha256(previous hash + the row's fields).
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(32), nullable=False),
    Column("message_id", BigInteger),
    Column("delivery_id", BigInteger),
    Column("detail", Text, nullable=False, default=""),
    Column("reason", Text),  # why a person did it (a CPR reveal, a resend …)
    Column("seq", BigInteger),  # position in the chain, set when the row is sealed
    Column("hash", String(64)),
    Index("ix_audit_message", "message_id"),
    Index("ix_audit_seq", "seq", unique=True),
    Index("ix_audit_at", "at"),
)

# The chain's head (one row, id 1): writers lock it while sealing their audit rows.
audit_chain = Table(
    "audit_chain",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# API tokens: only the SHA-256 of a token is kept; roles source | integrator | auditor.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("channel", String(100)),  # a source token posts only to this channel
    Column("token_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
    Column("last_used_at", Float),
    Index("ix_api_tokens_hash", "token_hash", unique=True),
)


class MessageStatus:
    RECEIVED = "RECEIVED"
    FILTERED = "FILTERED"
    ROUTED = "ROUTED"
    ERROR = "ERROR"


class DeliveryStatus:
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RETRYING = "RETRYING"
    DEAD = "DEAD"
    CANCELLED = "CANCELLED"


# A delivery in one of these is still to be sent (or being sent)
OPEN_DELIVERY = (DeliveryStatus.QUEUED, DeliveryStatus.RETRYING, DeliveryStatus.SENDING)
# ... and in one of these it is not (SENT may still wait for a MedCom receipt)
FINISHED_DELIVERY = (
    DeliveryStatus.SENT,
    DeliveryStatus.ACKNOWLEDGED,
    DeliveryStatus.DEAD,
    DeliveryStatus.CANCELLED,
)
