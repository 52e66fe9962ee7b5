"""The Alembic migrations create exactly the schema the code uses."""

from __future__ import annotations

import subprocess
import sys
import time

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


# Each process opens the store, then all migrate at the same moment.
_MIGRATE_AT = """
import sys, time
from engine.store.database import migrate, open_database
database = open_database(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
migrate(database)
"""


def _migrate_together(url: str, processes: int = 4) -> None:
    """What a receiver and workers started at once by a service manager do."""
    at = str(time.time() + 3)
    started = [
        subprocess.Popen([sys.executable, "-c", _MIGRATE_AT, url, at], stderr=subprocess.PIPE)
        for _ in range(processes)
    ]
    errors = [(p.communicate(timeout=60)[1], p.returncode) for p in started]
    failures = [err.decode()[-300:] for err, code in errors if code]
    assert failures == []


def test_processes_starting_together_on_a_fresh_sqlite_store_all_come_up(tmp_path):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    _migrate_together(url)
    with open_database(url).connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1


def test_processes_starting_together_on_a_fresh_postgresql_store_all_come_up(postgres_url):
    _migrate_together(postgres_url)
    with open_database(postgres_url).connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
