"""Deliveries remember the id a MedCom receipt will name (envelope id, MessageHeader.id);
messages are found by envelope id (MedCom duplicates).

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("correlation_id", sa.String(100)))
    op.create_index("ix_deliveries_correlation", "deliveries", ["correlation_id"])
    op.create_index("ix_messages_envelope", "messages", ["envelope_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_envelope", "messages")
    op.drop_index("ix_deliveries_correlation", "deliveries")
    op.drop_column("deliveries", "correlation_id")
