"""The few statements on the hot path, compiled once and run on the driver's own cursor.

Every commit of the writer runs a dozen of them. Through SQLAlchemy each costs 20 µs
(exec_driver_sql: result set-up) to 100 µs (Core: parameter handling) on top of what the
database does, which at a few messages a commit was most of the engine's time. Here each
statement is compiled once per dialect and goes to the cursor of the transaction's own
connection, so it is part of that transaction. Driver errors (sqlite3, psycopg) come out
as they are, not wrapped by SQLAlchemy: the writer treats any error alike.
"""

from __future__ import annotations

import contextlib
import functools
import operator
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement


def _cursor(conn: Connection) -> contextlib.closing[Any]:
    """A driver cursor on the connection of `conn`'s transaction, closed after use."""
    return contextlib.closing(conn.connection.cursor())


def driver_rows(conn: Connection, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
    """Run `sql` (in the driver's dialect) in `conn`'s transaction; its rows as tuples."""
    with _cursor(conn) as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


@functools.cache
def _getter(order: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row dict's values in `order`, as a tuple (itemgetter alone gives one value bare)."""
    if len(order) == 1:
        return lambda row: (row[order[0]],)
    return operator.itemgetter(*order)


class _Compiled:
    """A statement's SQL per dialect, the order of its parameters where the dialect's are
    positional (None: named, rows go as dicts), and the values of the parameters written
    into the statement itself (`status.in_(["QUEUED", ...])`)."""

    def __init__(self, statement: ClauseElement):
        self._statement = statement
        self._sql: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def sql(self, conn: Connection) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        name = conn.dialect.name
        if name not in self._sql:
            compiled = self._statement.compile(dialect=conn.dialect)
            assert isinstance(compiled, SQLCompiler)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            fixed = {k: b.effective_value for k, b in compiled.binds.items() if not b.required}
            self._sql[name] = (str(compiled), order, fixed)
        return self._sql[name]


class Query:
    """A statement that returns rows; `rows` takes its bind parameters by name."""

    def __init__(self, statement: ClauseElement):
        self._compiled = _Compiled(statement)

    def rows(self, conn: Connection, **params: Any) -> list[tuple[Any, ...]]:
        sql, order, fixed = self._compiled.sql(conn)
        named = {**fixed, **params}
        return driver_rows(conn, sql, named if order is None else tuple(named[k] for k in order))


class Bulk:
    """One DML statement; `run` takes rows as dicts keyed by bind parameter name."""

    def __init__(self, statement: ClauseElement):
        self._compiled = _Compiled(statement)

    def run(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if rows:
            with _cursor(conn) as cursor:
                cursor.executemany(*self._sql_and_params(conn, rows))

    def returned_firsts(self, conn: Connection, rows: list[dict[str, Any]]) -> list[Any]:
        """psycopg: run a statement with RETURNING for every row in one executemany; the
        first column each row returned, in the rows' order."""
        if not rows:
            return []
        with _cursor(conn) as cursor:
            cursor.executemany(*self._sql_and_params(conn, rows), returning=True)
            firsts = [cursor.fetchone()[0]]
            while cursor.nextset():
                firsts.append(cursor.fetchone()[0])
            return firsts

    def _sql_and_params(self, conn: Connection, rows: list[dict[str, Any]]) -> tuple[str, Any]:
        sql, order, fixed = self._compiled.sql(conn)
        if fixed:
            rows = [{**fixed, **r} for r in rows]
        return sql, rows if order is None else list(map(_getter(order), rows))


class BulkInsert:
    """INSERT of many rows into `table` with the given columns; can return the new ids."""

    def __init__(self, table: Table, columns: tuple[str, ...]):
        values = insert(table).values({c: bindparam(c) for c in columns})
        self._bulk = Bulk(values)
        self._returning = Bulk(values.returning(table.c.id))

    def run(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self._bulk.run(conn, rows)

    def run_returning_ids(self, conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        if conn.dialect.name != "sqlite":
            return self._returning.returned_firsts(conn, rows)
        # SQLite: the transaction holds the write lock, so rowids are assigned one after
        # another: the batch's ids end at last_insert_rowid().
        self._bulk.run(conn, rows)
        last = int(driver_rows(conn, "SELECT last_insert_rowid()")[0][0])
        return list(range(last - len(rows) + 1, last + 1))
