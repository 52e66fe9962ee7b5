"""Seal the audit events written before 0004 into the hash chain, oldest first.

No schema change. Done here, a chunk at a time, so that the first commit after the
upgrade does not meet (and block ingest on) every event the store ever kept.

Revision ID: 0005
"""

from alembic import op

from engine.store.audit import seal_backlog

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    seal_backlog(op.get_bind())


def downgrade() -> None:
    pass  # the chain's columns stay until 0004 is downgraded
