"""AMQP destination against a real RabbitMQ node on loopback: publisher confirms, routing
keys from the message, returned (unroutable) messages retried, a missing exchange or a
stopped broker waited out, TLS."""

from __future__ import annotations

from collections.abc import Iterator

import pika
import pytest
from conftest import delivery_count, eventually, hl7, mllp_in

from engine.simulators.mllp_client import send_all
from engine.store.queries import message_detail


@pytest.fixture
def broker(rabbitmq) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    """A channel for the test to declare and read queues; they are deleted afterwards."""
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq.url))
    channel = connection.channel()
    declared: list[str] = []
    channel.declared = declared  # type: ignore[attr-defined]
    yield channel
    for queue in declared:
        channel.queue_delete(queue)
    for exchange in ("kanal.test",):
        channel.exchange_delete(exchange)
    connection.close()


def declare(channel, queue: str) -> None:
    channel.queue_declare(queue, durable=True)
    channel.declared.append(queue)


def drain(channel, queue: str) -> list[tuple[pika.BasicProperties, bytes]]:
    got = []
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return got
        got.append((properties, body))


def amqp_destination(
    url: str, extra: str = "", routing_key: str = "epj.inbox", max_attempts: int = 50
) -> str:
    return f"""
[[destination]]
name = "bus"
type = "amqp"
url = "{url}"
routing_key = "{routing_key}"
timeout = "5s"
retry = {{ initial = "50ms", max = "200ms", jitter = 0, max_attempts = {max_attempts} }}
{extra}
"""


def attempts(engine, message_id: int) -> list[dict]:
    with engine.database.connect() as conn:
        return message_detail(conn, message_id)["deliveries"][0]["attempt_log"]


async def test_each_message_is_published_persistent_and_confirmed(start_engine, rabbitmq, broker):
    declare(broker, "epj.adt.a01")
    declare(broker, "epj.adt.a03")
    routing = "epj.{{ msg.type | replace('^', '.') | lower }}"
    engine = await start_engine(mllp_in("adt", amqp_destination(rabbitmq.url, "", routing)))
    port = engine.listeners["adt"].port

    await send_all("127.0.0.1", port, [hl7("Q-1"), hl7("Q-2", msg_type="ADT^A03")])
    await eventually(lambda: delivery_count(engine, "SENT") == 2)

    [(properties, body)] = drain(broker, "epj.adt.a01")
    assert b"Q-1" in body
    assert properties.delivery_mode == 2 and properties.message_id == "1"
    assert properties.content_type == "x-application/hl7-v2+er7"
    assert [b"Q-2" in body for _, body in drain(broker, "epj.adt.a03")] == [True]
    assert "confirmed by" in attempts(engine, 1)[0]["detail"]


async def test_a_message_no_queue_takes_is_retried_until_one_does(start_engine, rabbitmq, broker):
    engine = await start_engine(mllp_in("adt", amqp_destination(rabbitmq.url)))
    await send_all("127.0.0.1", engine.listeners["adt"].port, [hl7("LOST-1")])
    await eventually(lambda: len(attempts(engine, 1)) >= 2)
    assert delivery_count(engine, "SENT") == 0
    assert "no queue takes" in attempts(engine, 1)[0]["detail"]

    declare(broker, "epj.inbox")  # the partner binds its queue: the next retry lands
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    assert [b"LOST-1" in body for _, body in drain(broker, "epj.inbox")] == [True]


async def test_a_missing_exchange_holds_delivery_without_using_attempts(
    start_engine, rabbitmq, broker
):
    declare(broker, "epj.inbox")
    destination = amqp_destination(rabbitmq.url, 'exchange = "kanal.test"', max_attempts=2)
    engine = await start_engine(mllp_in("adt", destination))
    await send_all("127.0.0.1", engine.listeners["adt"].port, [hl7("EX-1")])
    refused = lambda: [a for a in attempts(engine, 1) if "NOT_FOUND" in a["detail"]]  # noqa: E731
    await eventually(lambda: len(refused()) >= 3)  # more than max_attempts, still not DEAD
    assert {a["outcome"] for a in refused()} == {"unreachable"}

    broker.exchange_declare("kanal.test", "direct", durable=True)
    broker.queue_bind("epj.inbox", "kanal.test", "epj.inbox")
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    assert [b"EX-1" in body for _, body in drain(broker, "epj.inbox")] == [True]


async def test_over_tls_with_the_partners_ca(start_engine, rabbitmq, broker, certificate):
    declare(broker, "epj.inbox")
    cert, _ = certificate
    extra = f'tls = {{ ca = "{cert}" }}'
    engine = await start_engine(mllp_in("adt", amqp_destination(rabbitmq.tls_url, extra)))
    await send_all("127.0.0.1", engine.listeners["adt"].port, [hl7("TLS-1")])
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    assert [b"TLS-1" in body for _, body in drain(broker, "epj.inbox")] == [True]


async def test_messages_wait_out_a_stopped_broker_and_arrive_once(start_engine, rabbitmq):
    url = rabbitmq.url
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        connection.channel().queue_declare("epj.outage", durable=True)
    engine = await start_engine(mllp_in("adt", amqp_destination(url, "", "epj.outage")))
    port = engine.listeners["adt"].port

    rabbitmq.stop()
    try:
        await send_all("127.0.0.1", port, [hl7(f"OUT-{n}") for n in range(20)])
        await eventually(lambda: len(attempts(engine, 1)) >= 1)
        assert attempts(engine, 1)[0]["outcome"] == "unreachable"
    finally:
        rabbitmq.start()
    await eventually(lambda: delivery_count(engine, "SENT") == 20, timeout=60)
    assert delivery_count(engine, "DEAD") == 0

    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        bodies = [body for _, body in drain(channel, "epj.outage")]
        channel.queue_delete("epj.outage")
    ids = sorted(int(body.split(b"OUT-")[1].split(b"|")[0]) for body in bodies)
    assert ids == list(range(20))  # every message, each once (durable queue kept them)
