"""Publishing notices with publisher confirms, from the event loop.

Each call publishes a list of notices on a ConfirmedChannel and returns once the broker
has confirmed every one (or raises QueueUnavailable).
Queues are declared the first time a destination is published to.
"""

from __future__ import annotations

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from engine.queue.confirmed import ConfirmedChannel, connection_parameters
from engine.queue.names import BUCKETS_MS, bucket_for, wait_queue, work_queue
from engine.store.writer import StoreUnavailable

Notice = tuple[str, str, int, float]  # channel, destination, delivery id, delay in seconds


class QueueUnavailable(StoreUnavailable):
    """The broker did not confirm: what was received must not be acknowledged."""


def declare(channel: BlockingChannel, name: str, destination: str) -> None:
    """A destination's work queue and its wait queues (idempotent)."""
    work = work_queue(name, destination)
    channel.queue_declare(work, durable=True)
    for bucket in BUCKETS_MS:
        channel.queue_declare(
            wait_queue(name, destination, bucket),
            durable=True,
            arguments={
                "x-message-ttl": bucket,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": work,
            },
        )


class NoticePublisher:
    def __init__(self, url: str, notified: frozenset[tuple[str, str]]):
        """`notified`: the pairs whose workers read notices; the others get none."""
        self._notified = notified
        parameters = connection_parameters(url)
        parameters.heartbeat = 0  # idle between bursts; the broker must not drop it
        self._broker = ConfirmedChannel(parameters, "kanal-notices")
        self._declared: set[tuple[str, str]] = set()

    async def publish(self, notices: list[Notice]) -> None:
        wanted = self._wanted(notices)
        if wanted:
            await self._broker.call(self._send, wanted)

    def publish_blocking(self, notices: list[Notice]) -> int:
        """For commands without an event loop; never from two threads at once. How many
        were published."""
        wanted = self._wanted(notices)
        self._send(wanted)
        return len(wanted)

    def _wanted(self, notices: list[Notice]) -> list[Notice]:
        return [n for n in notices if (n[0], n[1]) in self._notified]

    def _send(self, notices: list[Notice]) -> None:
        try:
            channel = self._broker.channel()
            for name, destination, delivery_id, delay in notices:
                if (name, destination) not in self._declared:
                    declare(channel, name, destination)
                    self._declared.add((name, destination))
                queue = (
                    wait_queue(name, destination, bucket_for(delay))
                    if delay > 0
                    else work_queue(name, destination)
                )
                channel.basic_publish(
                    "",
                    queue,
                    str(delivery_id).encode(),
                    pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
                    mandatory=True,
                )
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._broker.forget()
            self._declared.clear()  # a broker that lost its data lost the queues too
            raise QueueUnavailable(f"the broker did not confirm: {exc!r}") from exc

    def close_blocking(self) -> None:
        self._broker.close_blocking()

    async def close(self) -> None:
        await self._broker.close()
