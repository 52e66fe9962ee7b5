"""The audit log as a hash chain: tamper-evident, checked by `kanal audit verify`.

Every writer `stage`s its audit rows (`event` makes one); before the transaction commits,
`seal(conn)` locks the chain's head (`audit_chain`, id 1), gives each staged row an id,
the next position and hash = sha256(previous hash + the row's fields), inserts it so,
and moves the head: one INSERT a row. Changing a row's content, deleting one, or deleting
the newest ones breaks the chain where it happened. Rows inserted without `seq` (around
the engine, or before the upgrade that chained the log) are adopted by the next seal:
chained in id order, before its own, with an UPDATE.

Why one total order with several processes on PostgreSQL: every transaction seals before
it commits, and it seals while holding the head's row lock, which it keeps until it
commits; the next sealer reads the head only after that commit: positions (and, from the
sequence, ids) are handed out one transaction at a time and never twice (the unique index
on seq would refuse it anyway). On SQLite there is only one writer at a time: the seal
takes the write lock before it reads the head, if the transaction has not written yet.

Sealing must be the last thing a transaction does: the head lock is then only ever
waited for, never held while waiting for another row lock, so it cannot deadlock. Staged
rows that no seal inserts are lost with the transaction's connection.

The chain proves the log was not edited by someone who did not also recompute every hash
after the edit; there is no secret. Keep the head's hash somewhere else now and then
(`kanal audit verify` prints it) to bind the past.
"""

from __future__ import annotations

import hashlib
import json
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.store.bulk import Bulk, BulkInsert, Query, driver_rows
from engine.store.schema import audit_chain, audit_events

log = structlog.get_logger("kanal.audit")

GENESIS = "0" * 64  # the hash before the first event
HEAD = 1  # the chain head's row id
CHUNK = 5000  # rows read at a time by verify
STALE = 300.0  # seconds: an unsealed row this old was not written by the sealing transaction

CHAINED_FIELDS = (  # what each hash covers, in this order
    audit_events.c.id,
    audit_events.c.at,
    audit_events.c.actor,
    audit_events.c.action,
    audit_events.c.message_id,
    audit_events.c.delivery_id,
    audit_events.c.detail,
    audit_events.c.reason,
)


# Built once: json.dumps with options makes a new encoder on every call.
_canonical = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def link(previous: str, row: Any) -> str:
    """The hash of one audit row, chained to the one before it: sha256 of the previous
    hash (hex) followed by the row as a JSON array (ASCII, no spaces) of id, repr(at),
    actor, action, message_id, delivery_id, detail, reason."""
    id_, at, actor, action, message_id, delivery_id, detail, reason = row[:8]
    canonical = _canonical(
        [
            int(id_),
            repr(float(at)),
            actor,
            action,
            None if message_id is None else int(message_id),
            None if delivery_id is None else int(delivery_id),
            detail,
            reason,
        ]
    )
    return hashlib.sha256((previous + canonical).encode("ascii")).hexdigest()


# No ORDER BY: sorting the few rows here lets the database use ix_audit_seq (the NULLs)
# instead of walking the whole table in id order.
_UNSEALED = Query(select(*CHAINED_FIELDS).where(audit_events.c.seq.is_(None)))
_LOCK_HEAD = Query(
    select(audit_chain.c.seq, audit_chain.c.hash).where(audit_chain.c.id == HEAD).with_for_update()
)
_SEAL_ROW = Bulk(
    update(audit_events)
    .where(audit_events.c.id == bindparam("row_id"))
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_MOVE_HEAD = Bulk(
    update(audit_chain)
    .where(audit_chain.c.id == bindparam("head_id"))
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
)
_INSERT_SEALED = BulkInsert(audit_events, tuple(c.name for c in audit_events.columns))
_NEXT_IDS = (
    "SELECT nextval(pg_get_serial_sequence('audit_events', 'id'))"
    " FROM generate_series(1, %(count)s)"
)

# Rows staged by a transaction (its Connection), inserted sealed by its `seal`
_staged: weakref.WeakKeyDictionary[Connection, list[dict[str, Any]]] = weakref.WeakKeyDictionary()


def event(
    actor: str,
    action: str,
    detail: str = "",
    *,
    at: float | None = None,
    message_id: int | None = None,
    delivery_id: int | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """One audit row for `stage`: who did what (`detail`: to what, with what outcome) and,
    when a person says why, `reason`."""
    return {
        "at": time.time() if at is None else at,
        "actor": actor[:100],
        "action": action,
        "message_id": message_id,
        "delivery_id": delivery_id,
        "detail": detail,
        "reason": (reason or "").strip() or None,
    }


def stage(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Audit rows (at, actor, action, message_id, delivery_id, detail and optionally
    reason: see `event`) for this transaction's `seal` to insert, sealed: the one way to
    write an audit event. A transaction that fails takes them with it."""
    if rows:
        _staged.setdefault(conn, []).extend(rows)


def seal(conn: Connection) -> int:
    """Chain every unsealed audit row this transaction can see, then insert its staged
    rows sealed; how many it sealed.

    Call it last in every transaction that writes audit rows. With nothing to seal it
    costs one indexed select and takes no lock.
    """
    rows = _UNSEALED.rows(conn)
    staged = _staged.pop(conn, [])
    if not rows and not staged:
        return 0
    locked = conn.dialect.name == "sqlite" and _has_written(conn)
    seq, previous = _lock_head(conn)
    if rows and not locked:
        # While we waited for the head, another transaction may have sealed rows that
        # were committed unsealed (written around the engine): read again, under the lock.
        rows = _UNSEALED.rows(conn)
    old = time.time() - STALE
    stale = [int(id_) for id_, at, *_ in rows if float(at) < old]  # rows are CHAINED_FIELDS
    if stale:  # not this transaction's: written around the engine, or before the upgrade
        log.warning("audit.adopted", ids=stale[:20], count=len(stale))
    seq, previous = _chain(conn, sorted(rows, key=lambda r: int(r[0])), seq, previous)
    seq, previous = _insert_sealed(conn, staged, seq, previous)
    _move_head(conn, seq, previous)
    return len(rows) + len(staged)


def seal_backlog(conn: Connection, chunk: int = CHUNK) -> int:
    """Seal the rows written before the log was chained, oldest first, a chunk at a time
    (migration 0005: so that no writer's commit meets millions of them)."""
    total, after = 0, -1
    while True:
        rows = conn.execute(
            select(*CHAINED_FIELDS)
            .where(audit_events.c.id > after, audit_events.c.seq.is_(None))
            .order_by(audit_events.c.id)
            .limit(chunk)
        ).all()
        if not rows:
            return total
        seq, previous = _lock_head(conn)
        _move_head(conn, *_chain(conn, rows, seq, previous))
        total += len(rows)
        after = int(rows[-1].id)


def _chain(conn: Connection, rows: Sequence[Any], seq: int, previous: str) -> tuple[int, str]:
    """Give `rows` (CHAINED_FIELDS, in id order) the positions after `seq`; the last
    position and hash."""
    sealed = []
    for row in rows:
        seq += 1
        previous = link(previous, row)
        sealed.append({"row_id": row[0], "new_seq": seq, "new_hash": previous})
    _SEAL_ROW.run(conn, sealed)
    return seq, previous


def _insert_sealed(
    conn: Connection, staged: list[dict[str, Any]], seq: int, previous: str
) -> tuple[int, str]:
    """Insert `staged` with new ids and the positions after `seq`; the last position and hash."""
    if not staged:
        return seq, previous
    rows = []
    for id_, row in zip(_new_ids(conn, len(staged)), staged, strict=True):
        seq += 1
        sealed = {**row, "id": id_, "reason": row.get("reason"), "seq": seq}
        previous = sealed["hash"] = link(previous, [sealed[f.name] for f in CHAINED_FIELDS])
        rows.append(sealed)
    _INSERT_SEALED.run(conn, rows)
    return seq, previous


def _new_ids(conn: Connection, count: int) -> list[int]:
    if conn.dialect.name == "sqlite":
        # The transaction holds the write lock (see _lock_head): the next ids are its own
        # (were they not, the insert would fail on the primary key and roll back).
        last = int(driver_rows(conn, "SELECT coalesce(max(id), 0) FROM audit_events")[0][0])
        return list(range(last + 1, last + 1 + count))
    return sorted(int(row[0]) for row in driver_rows(conn, _NEXT_IDS, {"count": count}))


def _move_head(conn: Connection, seq: int, previous: str) -> None:
    _MOVE_HEAD.run(conn, [{"head_id": HEAD, "head_seq": seq, "head_hash": previous}])


def _lock_head(conn: Connection) -> tuple[int, str]:
    if conn.dialect.name == "sqlite" and not _has_written(conn):
        # The driver begins a transaction only at the first write, so one that has only
        # read (a search, a read by a person) would read the head and the next ids outside
        # any lock: take the write lock first, as a writer's first statement would have.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    head = _LOCK_HEAD.rows(conn)
    if not head:
        _create_head(conn)
        head = _LOCK_HEAD.rows(conn)
    seq, hash_ = head[0]
    return int(seq), str(hash_)


def _has_written(conn: Connection) -> bool:
    """SQLite: whether the transaction has begun (pysqlite begins it at the first write),
    and so holds the write lock."""
    return bool(getattr(conn.connection.dbapi_connection, "in_transaction", True))


def _create_head(conn: Connection) -> None:
    """The head row, if nobody has made it yet (a concurrent creator wins; we then lock
    theirs). Missing while sealed rows exist means it was deleted: it continues from the
    newest sealed row rather than stopping every write (`verify` cannot see that)."""
    last = conn.execute(
        select(audit_events.c.seq, audit_events.c.hash)
        .where(audit_events.c.seq.is_not(None))
        .order_by(audit_events.c.seq.desc())
        .limit(1)
    ).first()
    seq, hash_ = (int(last.seq), str(last.hash)) if last is not None else (0, GENESIS)
    if last is not None:
        log.warning("audit.head_recreated", seq=seq)
    values = {"id": HEAD, "seq": seq, "hash": hash_}
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(postgresql.insert(audit_chain).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        conn.execute(sqlite.insert(audit_chain).values(values).on_conflict_do_nothing())
    else:
        conn.execute(insert(audit_chain).values(values))


@dataclass(frozen=True)
class VerifyResult:
    checked: int  # events whose hash was recomputed
    head_seq: int
    head_hash: str
    problem: str | None = None  # the first one found; None: the chain is intact
    event_id: int | None = None  # the row it names, where there is one
    seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


Progress = Callable[[int, int], None]  # (events checked, events in the chain)


def verify(conn: Connection, progress: Progress | None = None, chunk: int = CHUNK) -> VerifyResult:
    """Walk the chain in seq order, a chunk at a time, and recompute every hash.

    Reports the first problem: a row changed, a position missing (a row deleted), a head
    that the newest row does not match (the newest rows deleted), rows beyond the head or
    with no position (written around the engine). Safe while the engine runs: it checks
    the chain up to the head as it was when it started; rows sealed later are not read.
    """
    head = conn.execute(
        select(audit_chain.c.seq, audit_chain.c.hash).where(audit_chain.c.id == HEAD)
    ).first()
    if head is None:
        first = conn.execute(
            select(audit_events.c.id, audit_events.c.seq)
            .where(audit_events.c.seq.is_not(None))
            .order_by(audit_events.c.seq)
            .limit(1)
        ).first()
        if first is not None:
            return VerifyResult(
                0, 0, GENESIS, "the chain's head (audit_chain) was deleted", first.id, first.seq
            )
        head_seq, head_hash = 0, GENESIS
    else:
        head_seq, head_hash = int(head.seq), str(head.hash)

    def result(problem: str | None = None, row: Any = None, seq: int | None = None) -> VerifyResult:
        return VerifyResult(
            checked,
            head_seq,
            head_hash,
            problem,
            None if row is None else int(row.id),
            seq if seq is not None or row is None or row.seq is None else int(row.seq),
        )

    page = (
        select(*CHAINED_FIELDS, audit_events.c.seq, audit_events.c.hash)
        .where(
            audit_events.c.seq > bindparam("after"),
            audit_events.c.seq <= head_seq,
        )
        .order_by(audit_events.c.seq)
        .limit(chunk)
    )
    checked, expected, previous = 0, 1, GENESIS
    while expected <= head_seq:
        rows = conn.execute(page, {"after": expected - 1}).all()
        if not rows:
            break
        for row in rows:
            if row.seq != expected:
                return result(
                    f"seq {expected} is missing: an event was deleted"
                    f" (the next is audit event id {row.id}, seq {row.seq})",
                    row,
                    expected,
                )
            if link(previous, row) != row.hash:
                return result(f"audit event id {row.id} (seq {row.seq}) was changed", row)
            previous = row.hash
            expected += 1
            checked += 1
        if progress is not None:
            progress(checked, head_seq)
    if checked < head_seq:
        return result(
            f"seq {expected} is missing: the newest events were deleted"
            f" (the chain's head is at seq {head_seq}, the last event at seq {checked})",
            seq=expected,
        )
    if previous != head_hash:
        return result(
            f"the chain's head (seq {head_seq}) does not match its last event:"
            " the head or that event was changed",
            seq=head_seq,
        )

    # Rows past the head: every sealer moves the head in the same transaction, so the head
    # read after max(seq) covers every committed row; more means rows added by hand.
    beyond = conn.execute(select(func.max(audit_events.c.seq))).scalar()
    now_head = conn.execute(select(audit_chain.c.seq).where(audit_chain.c.id == HEAD)).scalar()
    if beyond is not None and now_head is not None and beyond > now_head:
        extra = conn.execute(
            select(audit_events.c.id, audit_events.c.seq).where(audit_events.c.seq == beyond)
        ).first()
        return result(f"seq {beyond} is beyond the chain's head: added by hand", extra)

    # Every transaction seals before it commits, so committed unsealed rows were written
    # around the engine (or before the upgrade that chains the log, with nothing audited
    # since: the next audited change adopts them).
    loose = conn.execute(
        select(audit_events.c.id, audit_events.c.at, audit_events.c.seq)
        .where(audit_events.c.seq.is_(None))
        .order_by(audit_events.c.id)
        .limit(1)
    ).first()
    if loose is not None:
        return result(
            f"audit event id {loose.id} is not in the chain (it has no seq):"
            " it was added around the engine",
            loose,
        )
    return result()
