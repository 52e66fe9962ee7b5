"""Publishing notices with publisher confirms, from the event loop.

pika's BlockingConnection lives on one thread of its own; each call publishes a list of
notices and returns once the broker has confirmed every one (or raises QueueUnavailable).
Queues are declared the first time a destination is published to.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from engine.queue.names import BUCKETS_MS, bucket_for, wait_queue, work_queue
from engine.store.writer import StoreUnavailable

Notice = tuple[str, str, int, float]  # channel, destination, delivery id, delay in seconds


class QueueUnavailable(StoreUnavailable):
    """The broker did not confirm: what was received must not be acknowledged."""


def connection_parameters(url: str, timeout: float = 10.0) -> pika.URLParameters:
    parameters = pika.URLParameters(url)
    parameters.socket_timeout = timeout
    parameters.stack_timeout = timeout
    parameters.blocked_connection_timeout = timeout
    parameters.connection_attempts = 1
    return parameters


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
    def __init__(self, url: str):
        self._parameters = connection_parameters(url)
        self._parameters.heartbeat = 0  # idle between bursts; the broker must not drop it
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="kanal-notices")
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._declared: set[tuple[str, str]] = set()

    async def publish(self, notices: list[Notice]) -> None:
        if notices:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._thread, self.publish_blocking, notices)

    def publish_blocking(self, notices: list[Notice]) -> None:
        """For commands without an event loop; never from two threads at once."""
        try:
            channel = self._open()
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
            self._forget()
            raise QueueUnavailable(f"the broker did not confirm: {exc!r}") from exc

    def _open(self) -> BlockingChannel:
        if self._connection is None or self._connection.is_closed:
            self._connection = pika.BlockingConnection(self._parameters)
            self._channel = None
        if self._channel is None or self._channel.is_closed:
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
        return self._channel

    def close_blocking(self) -> None:
        self._forget()
        self._thread.shutdown(wait=False)

    def _forget(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._declared.clear()
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (pika.exceptions.AMQPError, OSError):
                return  # broken already; dropped either way

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._forget)
        self._thread.shutdown(wait=False)
