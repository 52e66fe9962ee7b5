"""A claim takes what is due (queued, retrying, or sending with its lease run out) and
reads only those rows: its work does not grow with the deliveries already sent."""

from __future__ import annotations

import time

from sqlalchemy import Connection, Engine, insert, select
from stored_rows import LONG_AGO, a_message, migrated

from engine.pipeline.items import Claimed, ClaimRequest
from engine.store.batches import claim_deliveries
from engine.store.schema import DeliveryStatus, deliveries

S = DeliveryStatus


def sent_history(database: Engine, delivery_id: int, count: int) -> None:
    """`count` more deliveries to d0 of the delivery's message, all sent long ago."""
    with database.connect() as conn:
        message_id = conn.execute(
            select(deliveries.c.message_id).where(deliveries.c.id == delivery_id)
        ).scalar_one()
    row = {
        "message_id": message_id,
        "channel": "adt",
        "destination": "d0",
        "status": S.SENT,
        "next_attempt_at": LONG_AGO,
        "created_at": LONG_AGO,
        "updated_at": LONG_AGO,
    }
    with database.begin() as conn:
        conn.execute(insert(deliveries), [row] * count)


def claim(database: Engine, destination: str = "d0", grace: float = 0.0) -> list[Claimed]:
    with database.begin() as conn:
        return _claim(conn, destination, grace)


def _claim(conn: Connection, destination: str = "d0", grace: float = 0.0) -> list[Claimed]:
    request = ClaimRequest("adt", destination, 100, lease=60, grace=grace)
    return claim_deliveries(conn, [request])[0]


def counted_claim(database: Engine) -> tuple[list[int], int]:
    """The ids a claim to d0 took, and how many SQLite instructions (in hundreds) it ran."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    with database.begin() as conn:
        sqlite = conn.connection.driver_connection
        sqlite.set_progress_handler(count, 100)
        try:
            taken = _claim(conn)
        finally:
            sqlite.set_progress_handler(None, 0)
    assert steps[0] > 0  # the handler saw the claim run
    return [c.delivery_id for c in taken], steps[0]


def test_a_claim_takes_what_is_due_with_its_payload(store_url):
    database, later = migrated(store_url), time.time() + 3600
    due = a_message(database, S.QUEUED, S.RETRYING, S.SENDING, S.SENT, S.DEAD)
    with database.begin() as conn:  # d1 retries in an hour; d2's lease ran out long ago
        conn.execute(
            deliveries.update().where(deliveries.c.id == due[1]).values(next_attempt_at=later)
        )
        conn.execute(
            deliveries.update().where(deliveries.c.id == due[2]).values(lease_until=LONG_AGO)
        )
    taken = [[c.delivery_id for c in claim(database, f"d{n}")] for n in range(5)]
    assert taken == [[due[0]], [], [due[2]], [], []]
    in_two_hours = claim(database, "d1", grace=-7200)  # as if it were two hours later
    assert [(c.delivery_id, c.payload, c.message["channel"]) for c in in_two_hours] == [
        (due[1], b"MSH", "adt")
    ]


def test_a_claims_work_does_not_grow_with_the_sent_history(tmp_path):
    database = migrated(f"sqlite:///{tmp_path / 'store.db'}")  # counts SQLite's instructions
    first = a_message(database, S.QUEUED)
    _, without_history = counted_claim(database)
    sent_history(database, first[0], 5000)
    second = a_message(database, S.QUEUED)
    taken, with_history = counted_claim(database)
    assert taken == second
    assert with_history <= without_history + 5  # walking 5,000 sent rows costs hundreds
