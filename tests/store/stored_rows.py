"""Rows for store tests that need a message without running an engine."""

from __future__ import annotations

from sqlalchemy import Engine, insert

from engine.store.database import migrate, open_database
from engine.store.schema import contents, deliveries, messages

LONG_AGO = 1.7e9  # received then: old enough for any retention


def migrated(url: str) -> Engine:
    """The store at `url`, with the current schema."""
    database = open_database(url)
    migrate(database)
    return database


def a_message(database: Engine, *statuses: str, received_at: float = LONG_AGO) -> list[int]:
    """A stored message of channel adt with one delivery in each of `statuses`; their ids."""
    with database.begin() as conn:
        message_id = conn.execute(
            insert(messages).values(
                channel="adt",
                status="ROUTED",
                format="hl7v2",
                size=3,
                received_at=received_at,
                updated_at=received_at,
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(contents).values(
                message_id=message_id, stage="raw", data=b"MSH", created_at=received_at
            )
        )
        return [
            conn.execute(
                insert(deliveries).values(
                    message_id=message_id,
                    channel="adt",
                    destination=f"d{n}",
                    status=status,
                    next_attempt_at=received_at,
                    created_at=received_at,
                    updated_at=received_at,
                    correlation_id=f"c{n}",
                )
            ).inserted_primary_key[0]
            for n, status in enumerate(statuses)
        ]
