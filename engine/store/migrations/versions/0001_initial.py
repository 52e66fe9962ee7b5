"""Initial store: messages, contents, deliveries, attempts, audit events.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("control_id", sa.String(100), nullable=False),
        sa.Column("sender", sa.String(200), nullable=False),
        sa.Column("receiver", sa.String(200), nullable=False),
        sa.Column("cpr", sa.String(10)),
        sa.Column("envelope_id", sa.String(100)),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("charset", sa.String(32), nullable=False),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    for name, columns in {
        "ix_messages_channel_received": ["channel", "received_at"],
        "ix_messages_received": ["received_at"],
        "ix_messages_cpr": ["cpr", "received_at"],
        "ix_messages_sender": ["sender", "received_at"],
        "ix_messages_receiver": ["receiver", "received_at"],
        "ix_messages_type": ["type", "received_at"],
        "ix_messages_status": ["status", "received_at"],
    }.items():
        op.create_index(name, "messages", columns)

    op.create_table(
        "deliveries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.BigInteger, sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("destination", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("lease_until", sa.Float),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_deliveries_queue",
        "deliveries",
        ["channel", "destination", "status", "next_attempt_at"],
    )
    op.create_index("ix_deliveries_message", "deliveries", ["message_id"])

    op.create_table(
        "contents",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.BigInteger, sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("delivery_id", sa.BigInteger, sa.ForeignKey("deliveries.id")),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_contents_message", "contents", ["message_id"])
    op.create_index("ix_contents_delivery", "contents", ["delivery_id"])

    op.create_table(
        "attempts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.BigInteger, sa.ForeignKey("deliveries.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_attempts_delivery", "attempts", ["delivery_id"])

    op.create_table(
        "audit_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("message_id", sa.BigInteger),
        sa.Column("delivery_id", sa.BigInteger),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_message", "audit_events", ["message_id"])


def downgrade() -> None:
    for table in ("audit_events", "attempts", "contents", "deliveries", "messages"):
        op.drop_table(table)
