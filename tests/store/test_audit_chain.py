"""The audit log is a hash chain: real traffic seals it, `kanal audit verify` finds edits."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from conftest import delivery_count, eventually, hl7, mllp_in, to_mllp
from sqlalchemy import Engine, func, insert, select
from typer.testing import CliRunner

from engine.cli import app
from engine.runtime import Engine as KanalEngine
from engine.simulators.mllp_client import send_all
from engine.store.audit import seal, verify
from engine.store.database import MIGRATIONS, migrate, open_database
from engine.store.events import record_event
from engine.store.operations import RESENDABLE, message_deliveries, resend
from engine.store.schema import audit_chain, audit_events


async def traffic(start_engine, epj, count: int = 6, engine_toml: str = "") -> KanalEngine:
    """An engine that received `count` messages and delivered them, a person's resend
    of one, and a token event: audit rows from the writer and from both other paths."""
    engine = await start_engine(mllp_in("adt", to_mllp("epj", epj.port)), engine_toml)
    frames = [hl7(f"AUDIT-{n}") for n in range(count)]
    await send_all("127.0.0.1", engine.listeners["adt"].port, frames)
    await eventually(lambda: delivery_count(engine, "SENT") == count)
    with engine.database.begin() as conn:
        resend(conn, message_deliveries(conn, 1, RESENDABLE), "cli:test", "asked again")
    await eventually(lambda: delivery_count(engine, "SENT") == count)
    with engine.database.begin() as conn:
        record_event(conn, "cli:test", "TOKEN", "test-token: integrator", reason="a test")
    return engine


def run_verify(config: Path) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["audit", "verify", "--config", str(config)]
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, " ".join(result.output.split())


def chain(database: Engine) -> list[tuple[int, int]]:
    """(seq, id) of every audit row, in chain order."""
    with database.connect() as conn:
        rows = conn.execute(
            select(audit_events.c.seq, audit_events.c.id).order_by(audit_events.c.seq)
        ).all()
    return [(r.seq, r.id) for r in rows]


def execute(database: Engine, sql: str) -> None:
    with database.begin() as conn:
        conn.exec_driver_sql(sql)


async def test_real_traffic_makes_an_intact_chain(start_engine, epj, tmp_path):
    engine = await traffic(start_engine, epj)
    rows = chain(engine.database)
    # received + sent per message, the resend and its new SENT, the token event
    assert len(rows) >= 6 * 2 + 3
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
    assert [i for _, i in rows] == sorted(i for _, i in rows)  # one writer: id order

    code, output = run_verify(tmp_path / "engine.toml")
    assert code == 0, output
    assert f"audit chain intact: {len(rows)} events" in output

    seen: list[tuple[int, int]] = []
    with engine.database.connect() as conn:
        result = verify(conn, lambda done, total: seen.append((done, total)), chunk=4)
        assert seal(conn) == 0  # nothing left unsealed
    assert result.ok and result.checked == len(rows)
    assert seen[-1] == (len(rows), len(rows)) and len(seen) > 1  # read a chunk at a time


async def test_a_changed_event_is_named(start_engine, epj, tmp_path):
    engine = await traffic(start_engine, epj)
    seq, row_id = chain(engine.database)[4]
    execute(engine.database, f"UPDATE audit_events SET detail = 'nothing' WHERE id = {row_id}")

    code, output = run_verify(tmp_path / "engine.toml")
    assert code == 1
    assert f"audit event id {row_id} (seq {seq}) was changed" in output


async def test_a_changed_time_is_named(start_engine, epj, tmp_path):
    engine = await traffic(start_engine, epj)
    seq, row_id = chain(engine.database)[2]
    execute(engine.database, f"UPDATE audit_events SET at = at + 0.001 WHERE id = {row_id}")

    code, output = run_verify(tmp_path / "engine.toml")
    assert (code, f"audit event id {row_id} (seq {seq}) was changed" in output) == (1, True)


async def test_a_deleted_event_is_named_by_its_seq(start_engine, epj, tmp_path):
    engine = await traffic(start_engine, epj)
    seq, row_id = chain(engine.database)[5]
    execute(engine.database, f"DELETE FROM audit_events WHERE id = {row_id}")

    code, output = run_verify(tmp_path / "engine.toml")
    assert code == 1
    assert f"seq {seq} is missing: an event was deleted" in output


async def test_deleting_the_newest_events_is_found(start_engine, epj, tmp_path):
    engine = await traffic(start_engine, epj)
    rows = chain(engine.database)
    last_seq, last_id = rows[-1]
    execute(engine.database, f"DELETE FROM audit_events WHERE id = {last_id}")

    code, output = run_verify(tmp_path / "engine.toml")
    assert code == 1
    assert f"seq {last_seq} is missing: the newest events were deleted" in output


async def test_events_written_around_the_engine_are_found(start_engine, epj, tmp_path):
    engine = await traffic(start_engine, epj)
    await engine.stop()  # a running engine's next commit would chain it (and log that)
    with engine.database.begin() as conn:
        conn.execute(
            insert(audit_events).values(at=1.0, actor="someone", action="RESEND", detail="")
        )
        forged = conn.execute(select(func.max(audit_events.c.id))).scalar_one()

    code, output = run_verify(tmp_path / "engine.toml")
    assert code == 1
    assert f"audit event id {forged} is not in the chain" in output


async def test_a_rewritten_head_is_found(start_engine, epj, tmp_path):
    engine = await traffic(start_engine, epj)
    execute(engine.database, f"UPDATE audit_chain SET hash = '{'1' * 64}'")

    code, output = run_verify(tmp_path / "engine.toml")
    assert code == 1
    assert "does not match its last event" in output


def test_events_from_before_the_chain_are_sealed_by_the_upgrade(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    alembic = AlembicConfig()
    alembic.set_main_option("script_location", str(MIGRATIONS))
    with database.begin() as conn:
        alembic.attributes["connection"] = conn
        command.upgrade(alembic, "0003")
        conn.exec_driver_sql(
            "INSERT INTO audit_events (at, actor, action, detail) VALUES (?, 'kanal', 'SENT', ?)",
            [(1.7e9 + n, f"old {n}") for n in range(12000)],  # a few chunks
        )
    migrate(database)

    assert [seq for seq, _ in chain(database)] == list(range(1, 12001))
    with database.connect() as conn:
        assert verify(conn).checked == 12000


def test_an_empty_log_is_intact(tmp_path):
    (tmp_path / "engine.toml").write_text('[store]\nurl = "sqlite:///k.db"\n')
    migrate(open_database(f"sqlite:///{tmp_path / 'k.db'}"))
    code, output = run_verify(tmp_path / "engine.toml")
    assert (code, "audit chain intact: 0 events" in output) == (0, True)


async def test_concurrent_writers_on_postgresql_make_one_chain(
    start_engine, epj, tmp_path, postgres_url
):
    """Real traffic through an engine while four threads record events, each in its own
    transactions: every transaction seals under the head's lock, so one unbroken chain."""
    engine = await start_engine(
        mllp_in("adt", to_mllp("epj", epj.port)),
        f'[api]\nlisten = "127.0.0.1:0"\n[store]\nurl = "{postgres_url}"\n',
    )
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for n in range(40):
                with engine.database.begin() as conn:
                    for k in range(n % 3 + 1):
                        record_event(conn, name, "TOKEN", f"{name} {n}.{k}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    frames = [hl7(f"PG-{n}") for n in range(60)]
    await send_all("127.0.0.1", engine.listeners["adt"].port, frames)
    await eventually(lambda: delivery_count(engine, "SENT") == 60)
    for thread in threads:
        thread.join()
    assert not errors

    rows = chain(engine.database)
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
    with engine.database.connect() as conn:
        head = conn.execute(select(audit_chain.c.seq)).scalar_one()
        by_threads = conn.execute(
            select(func.count()).where(audit_events.c.actor.like("t%"))
        ).scalar_one()
    assert head == len(rows)
    assert by_threads == 4 * sum(n % 3 + 1 for n in range(40))
    code, output = run_verify(tmp_path / "engine.toml")
    assert code == 0, output
    assert f"audit chain intact: {len(rows)} events" in output


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps long problems at 80 otherwise
