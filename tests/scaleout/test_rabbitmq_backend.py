"""The rabbitmq queue backend over real servers: PostgreSQL holds the store, RabbitMQ
carries the work. A receiver and two workers in separate processes; a worker SIGKILLed
mid-load; RabbitMQ restarted mid-load; the broker's copy lost and rebuilt from the store."""

from __future__ import annotations

import asyncio
import os
import signal

import pika
import pika.exceptions
import pytest
from conftest import (
    delivery_count,
    eventually,
    free_port,
    hl7,
    mllp_in,
    start_engine_process,
    stop_process,
    to_mllp,
    write_config,
)
from loadgen import keep_sending, outage_mid_load, send_counting
from test_shared_store import crash_and_restart
from typer.testing import CliRunner

from engine.cli import app
from engine.queue.names import work_queue
from engine.simulators.mllp_client import send_all

pytestmark = pytest.mark.slow

RETRY = '{ initial = "100ms", max = "500ms", jitter = 0 }'


def broker_toml(store_url: str, broker_url: str, lease: str = "2s", sweep: str = "60s") -> str:
    return f"""
[api]
enabled = false
[store]
url = "{store_url}"
[queue]
backend = "rabbitmq"
url = "{broker_url}"
poll = "100ms"
lease = "{lease}"
sweep = "{sweep}"
"""


def queued_notices(rabbitmq, queue: str) -> int:
    """How many deliveries the notices waiting in `queue` name (a notice may name several:
    the publisher groups them). Read and left there: unacked, they go back on close."""
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.url))
    try:
        channel = connection.channel()
        if channel.queue_declare(queue, passive=True).method.message_count == 0:
            return 0
        named = 0
        while (message := channel.basic_get(queue, auto_ack=False))[0] is not None:
            named += len(message[2].split(b","))
        return named
    except pika.exceptions.ChannelClosedByBroker:  # no such queue yet
        return 0
    finally:
        if connection.is_open:
            connection.close()


async def test_receiver_and_two_workers_survive_a_killed_worker(
    tmp_path, epj, postgres_url, rabbitmq
):
    port = free_port()
    channels = mllp_in("kill", to_mllp("epj", epj.port, retry=RETRY, batch="20"), port=port)
    config = write_config(tmp_path, channels, broker_toml(postgres_url, rabbitmq.url))
    receiver = await start_engine_process(config, port, role="receiver")
    workers = [await start_engine_process(config, None, role="worker") for _ in range(2)]
    acked: list[str] = []
    try:
        first = asyncio.create_task(send_counting(port, "K", 600, acked))
        await eventually(lambda: len(epj.received) >= 100, timeout=60)
        os.kill(workers[0].pid, signal.SIGKILL)  # its unacked notices go to the other worker
        await workers[0].wait()
        await first
        await send_counting(port, "L", 200, acked)

        assert len(acked) == 800
        await eventually(lambda: set(acked) <= set(epj.received), timeout=60)
        assert epj.duplicates <= 20, f"{epj.duplicates} duplicates"  # one batch in flight
        await eventually(lambda: queued_notices(rabbitmq, work_queue("kill", "epj")) == 0)
    finally:
        for process in (receiver, *workers):
            await stop_process(process)


async def test_a_broker_restart_mid_load_loses_nothing_acknowledged(
    tmp_path, epj, postgres_url, rabbitmq
):
    port = free_port()
    channels = mllp_in("restart", to_mllp("epj", epj.port, retry=RETRY), port=port)
    config = write_config(tmp_path, channels, broker_toml(postgres_url, rabbitmq.url))
    answers = await outage_mid_load(config, port, epj, rabbitmq.restart)
    assert answers.get("AR", 0) > 0, "the senders never noticed the broker was gone"
    assert epj.duplicates == 0


async def test_a_database_restart_mid_load_loses_nothing_acknowledged(
    tmp_path, epj, postgres, postgres_url, rabbitmq
):
    port = free_port()
    channels = mllp_in("pgdown", to_mllp("epj", epj.port, retry=RETRY, batch="20"), port=port)
    config = write_config(tmp_path, channels, broker_toml(postgres_url, rabbitmq.url))
    answers = await outage_mid_load(config, port, epj, crash_and_restart(postgres))
    assert answers.get("AR", 0) > 0, "the senders never noticed the database was gone"
    assert epj.duplicates <= 40, f"{epj.duplicates} duplicates"  # as with the sql backend


async def test_lost_notices_are_swept_from_the_store(tmp_path, epj, postgres_url, rabbitmq):
    """The broker's copy is purged; the store still knows every open delivery."""
    port = free_port()
    channels = mllp_in("sweep", to_mllp("epj", epj.port, retry=RETRY), port=port)
    config = write_config(tmp_path, channels, broker_toml(postgres_url, rabbitmq.url, sweep="1s"))
    receiver = await start_engine_process(config, port, role="receiver")
    acked: list[str] = []
    try:
        await send_counting(port, "S", 50, acked)
        queue = work_queue("sweep", "epj")
        assert queued_notices(rabbitmq, queue) == 50  # nobody consumes yet
        rabbitmq.ctl("purge_queue", queue)  # as if the broker lost its data

        worker = await start_engine_process(config, None, role="worker")
        await eventually(lambda: set(acked) <= set(epj.received), timeout=60)
        assert epj.duplicates == 0
        await stop_process(worker)
    finally:
        await stop_process(receiver)


async def test_a_lost_notice_is_swept_while_traffic_keeps_flowing(
    start_engine, tmp_path, epj, rabbitmq
):
    """The sweep runs on its own clock: steady notices must not hold back a lost one."""
    channels = mllp_in("steady", to_mllp("epj", epj.port, retry=RETRY))
    toml = broker_toml(f"sqlite:///{tmp_path / 'store.db'}", rabbitmq.url, sweep="1s")
    receiver = await start_engine(channels, toml, role="receiver")
    port = receiver.listeners["steady"].port
    await send_all("127.0.0.1", port, [hl7(f"LOST-{i}") for i in range(20)])
    rabbitmq.ctl("purge_queue", work_queue("steady", "epj"))  # their notices are gone

    stop, acked, answers = asyncio.Event(), [], {}
    sender = asyncio.create_task(keep_sending(port, "NEW", stop, acked, answers))
    try:
        await eventually(lambda: len(acked) >= 50)
        await start_engine(channels, toml, role="worker")
        await eventually(lambda: {f"LOST-{i}" for i in range(20)} <= set(epj.received))
        assert not sender.done(), "the traffic stopped: the test proves nothing"
    finally:
        stop.set()
        await sender
    await eventually(lambda: set(acked) <= set(epj.received))
    assert epj.duplicates == 0


async def test_ordered_destinations_take_no_notices(start_engine, tmp_path, epj, rabbitmq):
    """An ordered destination claims from the store: a notice for it would never be read,
    so neither the receiver nor `queues rebuild` publishes one."""
    ordered = to_mllp("ordered", epj.port, retry=RETRY, order_by='"{{ msg.cpr }}"')
    channels = mllp_in("keyed", to_mllp("plain", epj.port, retry=RETRY), ordered)
    toml = broker_toml(f"sqlite:///{tmp_path / 'store.db'}", rabbitmq.url)
    receiver = await start_engine(channels, toml, role="receiver")
    port = receiver.listeners["keyed"].port
    await send_all("127.0.0.1", port, [hl7(f"K-{i}") for i in range(5)])
    plain, keyed = work_queue("keyed", "plain"), work_queue("keyed", "ordered")
    assert (queued_notices(rabbitmq, plain), queued_notices(rabbitmq, keyed)) == (5, 0)

    config = str(tmp_path / "engine.toml")
    result = CliRunner().invoke(app, ["queues", "rebuild", "--config", config])
    assert result.exit_code == 0, result.output
    assert "5 open deliveries announced" in result.output
    assert (queued_notices(rabbitmq, plain), queued_notices(rabbitmq, keyed)) == (10, 0)

    await start_engine(channels, toml, role="worker")
    await eventually(lambda: delivery_count(receiver, "SENT") == 10)
    await eventually(lambda: queued_notices(rabbitmq, plain) == 0)
    assert queued_notices(rabbitmq, keyed) == 0


async def test_queues_rebuild_publishes_every_open_delivery(tmp_path, epj, postgres_url, rabbitmq):
    port = free_port()
    channels = mllp_in("rebuild", to_mllp("epj", epj.port, retry=RETRY), port=port)
    config = write_config(tmp_path, channels, broker_toml(postgres_url, rabbitmq.url))
    receiver = await start_engine_process(config, port, role="receiver")
    acked: list[str] = []
    queue = work_queue("rebuild", "epj")
    try:
        await send_counting(port, "B", 30, acked)
        rabbitmq.ctl("purge_queue", queue)  # the broker's copy is gone

        result = CliRunner().invoke(app, ["queues", "rebuild", "--config", str(config)])
        assert result.exit_code == 0, result.output
        assert "30 open deliveries announced" in result.output
        assert queued_notices(rabbitmq, queue) == 30

        worker = await start_engine_process(config, None, role="worker")  # sweep is 60 s
        await eventually(lambda: set(acked) <= set(epj.received), timeout=30)
        assert epj.duplicates == 0
        await stop_process(worker)
    finally:
        await stop_process(receiver)
