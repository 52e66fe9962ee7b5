"""Content retention: old finished messages lose their content stages, never their
metadata, deliveries, attempts or audit trail; open ones and young ones keep it."""

from __future__ import annotations

import time

import pytest
from conftest import delivery_count, eventually, free_port, hl7, to_mllp, write_config
from sqlalchemy import func, select
from typer.testing import CliRunner

from engine.cli import app
from engine.config import ChannelInfo
from engine.durations import parse_duration
from engine.pipeline.retention import Retention
from engine.simulators.mllp_client import send_all
from engine.store.audit import verify
from engine.store.operations import resend
from engine.store.schema import attempts, audit_events, contents, deliveries, messages

DAY = 86400.0


def channel(name: str, retention: str, *destinations: str) -> dict[str, str]:
    head = (
        f'[channel]\nname = "{name}"\nretention = "{retention}"\n'
        '[source]\ntype = "mllp"\nport = 0\n'
    )
    return {name: head + "\n".join(destinations)}


def test_retention_is_a_duration_in_days():
    assert parse_duration("30d") == 30 * DAY
    assert ChannelInfo(name="adt", retention="30d").retention == 30 * DAY  # type: ignore[arg-type]
    assert ChannelInfo(name="adt").retention is None
    with pytest.raises(ValueError):
        ChannelInfo(name="adt", retention="a month")  # type: ignore[arg-type]


def counts(engine, channel_name: str) -> dict[str, int]:
    """Rows of each kind belonging to the channel's messages."""
    ids = select(messages.c.id).where(messages.c.channel == channel_name)
    dids = select(deliveries.c.id).where(deliveries.c.message_id.in_(ids))
    queries = {
        "messages": select(func.count()).where(messages.c.channel == channel_name),
        "pruned": select(func.count()).where(
            messages.c.channel == channel_name, messages.c.pruned_at.is_not(None)
        ),
        "contents": select(func.count()).where(contents.c.message_id.in_(ids)),
        "deliveries": select(func.count()).where(deliveries.c.message_id.in_(ids)),
        "attempts": select(func.count()).where(attempts.c.delivery_id.in_(dids)),
        "audit": select(func.count()).where(audit_events.c.message_id.in_(ids)),
    }
    with engine.database.connect() as conn:
        return {k: int(conn.execute(q).scalar_one()) for k, q in queries.items()}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_toml(request: pytest.FixtureRequest) -> str:
    toml = '[api]\nlisten = "127.0.0.1:0"\n[queue]\npoll = "100ms"\n'
    if request.param == "postgresql":
        toml += f'[store]\nurl = "{request.getfixturevalue("postgres_url")}"\n'
    return toml


async def test_old_finished_content_is_pruned_in_batches(start_engine, epj, tmp_path, engine_toml):
    down = free_port()  # nothing listens: those deliveries stay open
    channels = {
        **channel("adt", "30d", to_mllp("epj", epj.port)),
        **channel("lab", "60d", to_mllp("epj", epj.port)),
        **channel(
            "orders",
            "30d",
            to_mllp("epj", epj.port),
            to_mllp("down", down, retry='{ initial = "10s" }'),
        ),
    }
    engine = await start_engine(channels, engine_toml)
    for name, count in (("adt", 5), ("lab", 2), ("orders", 2)):
        frames = [hl7(f"{name.upper()}-{i}") for i in range(count)]
        await send_all("127.0.0.1", engine.listeners[name].port, frames)
    await eventually(lambda: delivery_count(engine, "SENT") == 9)
    before = {name: counts(engine, name) for name in ("adt", "lab", "orders")}
    # raw content, and the response (the ACK) of each delivery sent
    assert before["adt"]["contents"] == 10 and before["orders"]["contents"] == 4

    # 31 days from now: adt's messages are past their 30 days, lab's within their 60
    retention = Retention(engine.database, list(engine.channels.values()), batch=2, pause=0)
    pruned = await retention.run_once(now=time.time() + 31 * DAY)
    assert pruned == {"adt": 5, "lab": 0, "orders": 0}

    after = counts(engine, "adt")
    assert after["contents"] == 0 and after["pruned"] == 5
    for kept in ("messages", "deliveries", "attempts", "audit"):
        assert after[kept] == before["adt"][kept], kept
    assert counts(engine, "lab") == before["lab"]  # younger than its retention
    assert counts(engine, "orders") == before["orders"]  # a delivery is still open

    with engine.database.connect() as conn:
        events = conn.execute(
            select(audit_events.c.actor, audit_events.c.detail)
            .where(audit_events.c.action == "PRUNED")
            .order_by(audit_events.c.id)
        ).all()
        assert verify(conn).ok  # the PRUNED events are sealed into the chain
    # one event per batch of at most 2 messages, naming the channel and the count
    assert [e.actor for e in events] == ["kanal"] * 3
    assert ["channel adt: content of 2 message(s)" in e.detail for e in events] == [
        True,
        True,
        False,
    ]
    assert "channel adt: content of 1 message(s)" in events[2].detail

    # the next pass finds nothing new, and starts where this one ended
    assert await retention.run_once(now=time.time() + 31 * DAY) == {
        "adt": 0,
        "lab": 0,
        "orders": 0,
    }

    # the open delivery is cancelled: now the orders messages go too
    with engine.database.begin() as conn:
        conn.execute(
            deliveries.update().where(deliveries.c.destination == "down").values(status="CANCELLED")
        )
    assert (await retention.run_once(now=time.time() + 31 * DAY))["orders"] == 2
    assert counts(engine, "orders")["contents"] == 0

    # kanal messages show says so, and still shows the deliveries and the audit trail
    config = str(write_config(tmp_path, channels, engine_toml))
    shown = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["messages", "show", "1", "--config", config], catch_exceptions=False
    )
    assert shown.exit_code == 0, shown.stdout
    assert "content pruned at" in shown.stdout
    assert "SENT" in shown.stdout and "RECEIVED" in shown.stdout

    # a pruned message cannot be sent again: there is nothing left to send
    with engine.database.begin() as conn:
        [delivery_id] = conn.execute(
            select(deliveries.c.id).where(deliveries.c.message_id == 1)
        ).scalars()
        assert resend(conn, [delivery_id], "test", "try again") == 0
    assert delivery_count(engine, "SENT") == 9
