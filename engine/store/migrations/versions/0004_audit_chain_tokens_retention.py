"""Audit events hash-chained (seq, hash; the chain's head row is what writers lock), API
tokens (hashed) with roles, and messages whose content retention has pruned.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("seq", sa.BigInteger()))
    op.add_column("audit_events", sa.Column("hash", sa.String(64)))
    op.add_column("audit_events", sa.Column("reason", sa.Text()))
    op.create_index("ix_audit_seq", "audit_events", ["seq"], unique=True)
    op.create_index("ix_audit_at", "audit_events", ["at"])
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(100)),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float()),
        sa.Column("last_used_at", sa.Float()),
    )
    op.create_index("ix_api_tokens_hash", "api_tokens", ["token_hash"], unique=True)
    op.add_column("messages", sa.Column("pruned_at", sa.Float()))


def downgrade() -> None:
    op.drop_column("messages", "pruned_at")
    op.drop_index("ix_api_tokens_hash", "api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("audit_chain")
    op.drop_index("ix_audit_at", "audit_events")
    op.drop_index("ix_audit_seq", "audit_events")
    op.drop_column("audit_events", "reason")
    op.drop_column("audit_events", "hash")
    op.drop_column("audit_events", "seq")
