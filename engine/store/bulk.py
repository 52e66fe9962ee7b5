"""executemany without the ORM-grade overhead, for the few statements on the hot path.

SQLAlchemy Core costs ~100 µs per statement in parameter handling; at thousands of
messages a second that is most of the budget. Each statement here is compiled once per
dialect and its rows go straight to the driver's executemany.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.sql.dml import UpdateBase


class Bulk:
    """One DML statement; `run` takes rows as dicts keyed by bind parameter name."""

    def __init__(self, statement: UpdateBase):
        self._statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def run(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        sql, order = self._for(conn)
        params: list[Any] = rows if order is None else [tuple(r[k] for k in order) for r in rows]
        conn.exec_driver_sql(sql, params)

    def _for(self, conn: Connection) -> tuple[str, tuple[str, ...] | None]:
        name = conn.dialect.name
        if name not in self._compiled:
            compiled = self._statement.compile(dialect=conn.dialect)
            order = tuple(compiled.positiontup) if compiled.positional else None  # type: ignore[arg-type]
            self._compiled[name] = (str(compiled), order)
        return self._compiled[name]


class BulkInsert:
    """INSERT of many rows into `table` with the given columns; can return the new ids."""

    def __init__(self, table: Table, columns: tuple[str, ...]):
        self._bulk = Bulk(insert(table).values({c: bindparam(c) for c in columns}))
        self._returning = insert(table).returning(table.c.id, sort_by_parameter_order=True)

    def run(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self._bulk.run(conn, rows)

    def run_returning_ids(self, conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        if conn.dialect.name != "sqlite":
            return [row[0] for row in conn.execute(self._returning, rows)]
        # SQLite: the transaction holds the write lock, so rowids are assigned one after
        # another: the batch's ids end at last_insert_rowid().
        self._bulk.run(conn, rows)
        last = int(conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one())
        return list(range(last - len(rows) + 1, last + 1))
