"""Deliveries carry an ordering key (a destination that keeps order per patient, say) and
count the resends MedCom reliable messaging made for want of a receipt.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("order_key", sa.String(200)))
    op.add_column(
        "deliveries",
        sa.Column("receipt_resends", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_deliveries_order", "deliveries", ["channel", "destination", "order_key"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_order", "deliveries")
    op.drop_column("deliveries", "receipt_resends")
    op.drop_column("deliveries", "order_key")
