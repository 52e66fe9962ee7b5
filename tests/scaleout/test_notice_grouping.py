"""Notices travel together: concurrent publishes share a broker confirm and one message
per queue; a consumer acks such a message only once every delivery it names is done."""

from __future__ import annotations

import asyncio

import pytest
from test_rabbitmq_backend import queued_notices

from engine.queue.consumer import NoticeConsumer
from engine.queue.names import work_queue
from engine.queue.publisher import NoticePublisher

pytestmark = pytest.mark.slow


def messages_in(rabbitmq, queue: str) -> tuple[int, int]:
    """(ready, unacknowledged) AMQP messages in the queue."""
    listing = rabbitmq.ctl(
        "list_queues", "name", "messages_ready", "messages_unacknowledged", "--quiet"
    )
    for line in listing.splitlines():
        name, ready, unacked = line.split("\t")
        if name == queue:
            return int(ready), int(unacked)
    return 0, 0


async def test_concurrent_publishes_share_messages_and_name_every_delivery(rabbitmq):
    publisher = NoticePublisher(rabbitmq.url, frozenset({("group", "epj")}))
    try:
        await asyncio.gather(*(publisher.publish([("group", "epj", i, 0.0)]) for i in range(50)))
    finally:
        await publisher.close()
    queue = work_queue("group", "epj")
    ready, _ = messages_in(rabbitmq, queue)
    assert ready < 50 and queued_notices(rabbitmq, queue) == 50


async def test_a_message_naming_three_deliveries_is_acked_when_all_three_are(rabbitmq):
    publisher = NoticePublisher(rabbitmq.url, frozenset({("three", "epj")}))
    await publisher.publish([("three", "epj", i, 0.0) for i in (7, 8, 9)])
    await publisher.close()
    queue = work_queue("three", "epj")
    consumer = NoticeConsumer(rabbitmq.url, "three", "epj", prefetch=10)
    consumer.start()
    try:
        first = await consumer.take(2, wait=10)
        assert [n.delivery_id for n in first] == [7, 8]
        consumer.ack(first)
        await asyncio.sleep(0.5)
        assert messages_in(rabbitmq, queue) == (0, 1)  # 9 is not done: the message stays
        last = await consumer.take(2, wait=10)
        assert [n.delivery_id for n in last] == [9]
        consumer.ack(last)
        for _ in range(50):
            if messages_in(rabbitmq, queue) == (0, 0):
                break
            await asyncio.sleep(0.1)
        assert messages_in(rabbitmq, queue) == (0, 0)
    finally:
        await asyncio.to_thread(consumer.stop)
