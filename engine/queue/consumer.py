"""Consuming one destination's notices on a thread of its own, handed to the event loop.

Each notice carries the connection generation it came on: after a reconnect the broker
redelivers what was not acked, and acks for the old connection's tags are dropped.
A message names one or more deliveries (comma-separated ids: engine.queue.publisher);
it is acked once every one of them has been.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass

import pika
import pika.exceptions
import structlog
from pika.adapters.blocking_connection import BlockingChannel

from engine.queue.confirmed import connection_parameters
from engine.queue.names import work_queue
from engine.queue.publisher import declare

log = structlog.get_logger("kanal.queue")

RECONNECT_PAUSE = 1.0
BATCH_LINGER = 0.005


@dataclass(frozen=True, slots=True)
class Received:
    delivery_id: int
    tag: int
    generation: int


class NoticeConsumer:
    def __init__(self, url: str, channel: str, destination: str, prefetch: int):
        self._parameters = connection_parameters(url)
        self._names = (channel, destination)
        self._prefetch = prefetch
        self._inbox: asyncio.Queue[Received] = asyncio.Queue()
        # (generation, tag): how many of the message's deliveries are not acked yet
        self._unacked: dict[tuple[int, int], int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = threading.Event()
        self._generation = 0
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"kanal-consume-{channel}-{destination}", daemon=True
        )

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    async def take(self, limit: int, wait: float) -> list[Received]:
        """Up to `limit` notices: waits up to `wait` seconds for the first one."""
        try:
            async with asyncio.timeout(wait):
                first = await self._inbox.get()
        except TimeoutError:
            return []
        taken = [first]
        # Notices arrive in bursts from the consumer's thread: a moment's wait fills the
        # batch, and a full batch costs the store one claim instead of many.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(BATCH_LINGER):
                while len(taken) < limit:
                    taken.append(await self._inbox.get())
        return taken

    def ack(self, notices: list[Received]) -> None:
        """Ack on the consumer's thread; notices of an older connection are already gone."""
        connection, generation = self._connection, self._generation
        live = [tag for tag in self._done(notices) if tag[0] == generation]
        if not live or connection is None:
            return

        def acknowledge() -> None:
            channel = self._channel
            if channel is not None and channel.is_open and self._generation == generation:
                for _, tag in live:
                    channel.basic_ack(tag)

        # closed meanwhile: the broker redelivers these notices
        with contextlib.suppress(pika.exceptions.ConnectionWrongStateError):
            connection.add_callback_threadsafe(acknowledge)

    def _done(self, notices: list[Received]) -> list[tuple[int, int]]:
        """The messages all of whose deliveries are now acked: (generation, tag)."""
        done = []
        for notice in notices:
            key = (notice.generation, notice.tag)
            left = self._unacked.get(key)
            if left is None:  # an older connection's: the broker redelivers it
                continue
            if left > 1:
                self._unacked[key] = left - 1
            else:
                del self._unacked[key]
                done.append(key)
        return done

    def _arrived(self, ids: list[int], tag: int, generation: int) -> None:
        """On the event loop: a message's deliveries, each a notice."""
        self._unacked[(generation, tag)] = len(ids)
        for delivery_id in ids:
            self._inbox.put_nowait(Received(delivery_id, tag, generation))

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._consume()
            except (pika.exceptions.AMQPError, OSError) as exc:
                log.warning("queue.consumer_lost", queue=work_queue(*self._names), error=repr(exc))
                self._connection = self._channel = None
                time.sleep(RECONNECT_PAUSE)

    def _consume(self) -> None:
        connection = pika.BlockingConnection(self._parameters)
        channel = connection.channel()
        declare(channel, *self._names)
        channel.basic_qos(prefetch_count=self._prefetch)
        self._generation += 1
        generation = self._generation
        loop = self._loop
        assert loop is not None
        loop.call_soon_threadsafe(self._unacked.clear)  # the old connection's are redelivered

        def on_message(_ch: object, method: object, _props: object, body: bytes) -> None:
            tag = method.delivery_tag  # type: ignore[attr-defined]
            try:
                ids = [int(part) for part in body.split(b",")]
            except ValueError:  # not ours: dropped, so that it cannot stop the consumer
                log.warning("queue.bad_notice", queue=work_queue(*self._names), size=len(body))
                channel.basic_ack(tag)
                return
            loop.call_soon_threadsafe(self._arrived, ids, tag, generation)

        channel.basic_consume(work_queue(*self._names), on_message)
        self._connection, self._channel = connection, channel
        try:
            while not self._stopping.is_set():
                connection.process_data_events(time_limit=0.2)
        finally:
            if connection.is_open:
                connection.close()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
