"""The Alembic migrations create exactly the schema the code uses."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.store.database import migrate, open_database
from engine.store.schema import metadata


def test_migrations_match_schema(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    migrate(database)
    migrate(database)  # idempotent
    with database.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_sqlite_is_durable_by_default(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    with database.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
