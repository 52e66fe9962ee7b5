"""Why a person resent or cancelled a delivery is the audit event's reason; its detail
says what state the delivery was in."""

from __future__ import annotations

from sqlalchemy import select
from stored_rows import a_message

from engine.store.database import migrate, open_database
from engine.store.operations import cancel, resend
from engine.store.schema import DeliveryStatus, audit_events


def test_the_reason_goes_in_the_reason_column(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    migrate(database)
    dead, queued, sent = a_message(
        database, DeliveryStatus.DEAD, DeliveryStatus.QUEUED, DeliveryStatus.SENT
    )
    with database.begin() as conn:
        resend(conn, [dead], "cli:test", "EPJ fixed")
    with database.begin() as conn:
        cancel(conn, [queued], "token:ops", "by phone")
    with database.begin() as conn:
        resend(conn, [sent], "cli:test", " ")  # no reason given
    with database.connect() as conn:
        rows = conn.execute(
            select(
                audit_events.c.delivery_id,
                audit_events.c.action,
                audit_events.c.detail,
                audit_events.c.reason,
            ).order_by(audit_events.c.seq)
        ).all()
    assert [tuple(r) for r in rows] == [
        (dead, "RESEND", "was DEAD", "EPJ fixed"),
        (queued, "CANCELLED", "was QUEUED", "by phone"),
        (sent, "RESEND", "was SENT", None),
    ]
