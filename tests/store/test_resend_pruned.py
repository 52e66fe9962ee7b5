"""A delivery whose message retention has pruned is never queued again, however a resend
and a retention pass interleave: the resend's own UPDATE checks it."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, event, select
from stored_rows import LONG_AGO, a_message, migrated

from engine.store.audit import verify
from engine.store.database import open_database
from engine.store.operations import resend
from engine.store.retention import prune_batch
from engine.store.schema import DeliveryStatus, audit_events, deliveries, messages


def prune(database: Engine) -> int:
    with database.begin() as conn:
        return prune_batch(conn, "adt", before=LONG_AGO + 1).pruned


def outcome(database: Engine) -> tuple[str, bool, list[str]]:
    """The delivery's status, whether its message was pruned, the audit actions."""
    with database.connect() as conn:
        status = conn.execute(select(deliveries.c.status)).scalar_one()
        pruned = conn.execute(select(messages.c.pruned_at)).scalar_one() is not None
        actions = list(conn.execute(select(audit_events.c.action).order_by(audit_events.c.seq)))
        assert verify(conn).ok
    return status, pruned, [a for (a,) in actions]


def resend_one(database: Engine, delivery: int) -> int:
    with database.begin() as conn:
        return resend(conn, [delivery], "cli:test", "asked again")


def test_a_pruned_message_is_not_resent(store_url):
    database = migrated(store_url)
    [dead] = a_message(database, DeliveryStatus.DEAD)
    assert prune(database) == 1
    assert resend_one(database, dead) == 0
    assert outcome(database) == (DeliveryStatus.DEAD, True, ["PRUNED"])


def test_retention_committing_while_a_resend_runs_is_seen_by_it(store_url):
    """Retention prunes (and commits) after the resend has read which deliveries to
    change and before it changes them: the change refuses."""
    database, retention = migrated(store_url), open_database(store_url)
    [dead] = a_message(database, DeliveryStatus.DEAD)
    pruned: list[int] = []

    def retention_meanwhile(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("SELECT deliveries.id, deliveries.message_id") and not pruned:
            thread = threading.Thread(target=lambda: pruned.append(prune(retention)))
            thread.start()
            thread.join(timeout=5)  # the resend holds no lock yet: retention commits

    event.listen(database, "before_cursor_execute", retention_meanwhile)
    done = resend_one(database, dead)
    event.remove(database, "before_cursor_execute", retention_meanwhile)
    assert (done, pruned) == (0, [1])
    assert outcome(database) == (DeliveryStatus.DEAD, True, ["PRUNED"])


def test_a_resend_waiting_for_retentions_locks_sees_its_prune(postgres_url):
    """PostgreSQL: retention has locked the deliveries and is about to mark the message
    pruned when a resend starts; the resend waits for it, then must see the prune (a
    condition read before the wait would not)."""
    database, resender = migrated(postgres_url), open_database(postgres_url)
    [dead] = a_message(database, DeliveryStatus.DEAD)
    resent: list[int] = []
    thread = threading.Thread(target=lambda: resent.append(resend_one(resender, dead)))

    def resend_meanwhile(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("UPDATE messages") and not thread.is_alive():
            thread.start()
            thread.join(timeout=0.5)  # it waits for retention's locks

    event.listen(database, "before_cursor_execute", resend_meanwhile)
    assert prune(database) == 1
    event.remove(database, "before_cursor_execute", resend_meanwhile)
    thread.join()
    assert resent == [0]
    assert outcome(database) == (DeliveryStatus.DEAD, True, ["PRUNED"])
