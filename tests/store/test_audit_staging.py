"""Every writer stages its audit rows and its transaction's seal inserts them sealed: no
audit row is inserted unsealed and then updated, and the chain stays intact."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import OperationalError
from stored_rows import LONG_AGO, a_message

from engine.store.audit import seal, verify
from engine.store.database import migrate, open_database
from engine.store.events import record_event
from engine.store.operations import cancel, resend
from engine.store.reliable import Overdue, give_up
from engine.store.retention import prune_batch
from engine.store.schema import DeliveryStatus, audit_events, deliveries, messages


@pytest.fixture
def database(tmp_path) -> Engine:
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    migrate(database)
    return database


@pytest.fixture
def statements(database: Engine) -> Iterator[list[str]]:
    """Every SQL statement SQLite runs from here on (once per row of an executemany),
    those the hot path sends straight to the driver included."""
    seen: list[str] = []

    def record(statement: str) -> None:
        seen.append(" ".join(statement.split()))

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(record)

    database.dispose()  # new connections, each traced
    event.listen(database, "connect", trace)
    yield seen
    event.remove(database, "connect", trace)


def test_every_writer_inserts_its_audit_rows_sealed(database, statements):
    dead, queued, sent = a_message(
        database, DeliveryStatus.DEAD, DeliveryStatus.QUEUED, DeliveryStatus.SENT
    )
    with database.begin() as conn:
        assert resend(conn, [dead], "cli:test", "asked again") == 1
    with database.begin() as conn:
        assert cancel(conn, [queued], "cli:test") == 1
    with database.begin() as conn:
        record_event(conn, "cli:test", "TOKEN", "t: integrator")
    with database.begin() as conn:
        assert give_up(conn, Overdue(sent, 1, 0, b"MSH"), time.time(), "no receipt")
        seal(conn)
    with database.begin() as conn:  # every delivery finished now: the content may go
        conn.execute(
            deliveries.update().where(deliveries.c.id.in_([dead, queued])).values(status="SENT")
        )
    with database.begin() as conn:
        assert prune_batch(conn, "adt", before=LONG_AGO + 1).pruned == 1

    assert not [s for s in statements if s.startswith("UPDATE audit_events")]
    assert len([s for s in statements if s.startswith("INSERT INTO audit_events")]) == 5
    with database.connect() as conn:
        rows = conn.execute(
            select(audit_events.c.action, audit_events.c.seq).order_by(audit_events.c.seq)
        ).all()
        assert verify(conn).ok
    assert [r.action for r in rows] == ["RESEND", "CANCELLED", "TOKEN", "DEAD", "PRUNED"]
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]


def test_a_transaction_that_only_read_seals_under_the_write_lock(database, tmp_path):
    """A search is a read and then an audit event: its seal must hold SQLite's write lock
    from reading the chain's head to inserting, or another writer can take the same id
    and position in between."""
    hasty = create_engine(  # another process's writer, that gives up after 0.2 s
        f"sqlite:///{tmp_path / 'k.db'}", connect_args={"timeout": 0.2}
    )
    with database.begin() as conn:
        record_event(conn, "cli:test", "TOKEN", "t: integrator")  # the chain has a head
    between: list[str] = []

    def another_writer(statement: str) -> None:
        if statement.startswith("INSERT INTO audit_events") and not between:
            try:
                with hasty.begin() as conn:
                    record_event(conn, "cli:other", "SEARCH", "{}")
                between.append("written")
            except OperationalError:  # database is locked
                between.append("waited")

    with database.begin() as conn:
        # SQLite calls this as each statement starts, those sent straight to the driver too
        conn.connection.dbapi_connection.set_trace_callback(another_writer)
        conn.execute(select(messages.c.id)).all()  # the search
        record_event(conn, "token:person", "SEARCH", "{}")
        conn.connection.dbapi_connection.set_trace_callback(None)
    assert between == ["waited"]

    with hasty.begin() as conn:  # and now it can
        record_event(conn, "cli:other", "SEARCH", "{}")
    with database.connect() as conn:
        result = verify(conn)
    assert result.ok and result.checked == 3
