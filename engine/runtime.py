"""The running engine: store, writer, routing, workers, sources and API on one event loop."""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any, Literal

import structlog
from sqlalchemy import update

if TYPE_CHECKING:
    from engine.api.server import EmbeddedServer
from engine.alerts import Alerts
from engine.config import ChannelConfig, Destination, DirectorySource, EngineConfig, MllpSource
from engine.destinations import open_destination
from engine.metrics import observe_settled
from engine.pipeline.claims import ClaimSource, NoticeClaims, StoreClaims
from engine.pipeline.items import ClaimRequest
from engine.pipeline.receipt_watch import ReceiptWatch
from engine.pipeline.receive import Receiver
from engine.pipeline.retention import Retention
from engine.pipeline.router import Router, compile_channel
from engine.pipeline.worker import DestinationWorker
from engine.queue.consumer import NoticeConsumer
from engine.queue.names import notified
from engine.queue.publisher import NoticePublisher
from engine.sources.directory import DirectoryPoller
from engine.sources.mllp import MllpListener
from engine.store import batches
from engine.store.database import migrate, open_database
from engine.store.schema import DeliveryStatus, deliveries
from engine.store.writer import Writer

log = structlog.get_logger("kanal.engine")

STOP_TIMEOUT = 10.0
# receiver: sources, the API and the store's writer; worker: delivery workers and receipt
# watch; all: both in one process. Several processes of either role share one store.
Role = Literal["all", "receiver", "worker"]


class Engine:
    def __init__(self, config: EngineConfig, channels: list[ChannelConfig], role: Role = "all"):
        self.config = config
        self.role = role
        self.channels = {c.name: c for c in channels if c.channel.enabled}
        self.database = open_database(config.store_url, synchronous=config.store.sqlite_synchronous)
        self.writer = Writer(
            self.database,
            {
                "receive": batches.store_received,
                "outcome": batches.record_outcomes,
                "release": batches.release_deliveries,
                "claim": batches.claim_deliveries,
            },
            max_batch=config.store.commit_batch,
            lazy=frozenset({"outcome", "release"}),
        )
        plans = {
            name: compile_channel(c, config.mappings_dir, config.schema_dir)
            for name, c in self.channels.items()
        }
        self.workers: dict[tuple[str, str], DestinationWorker] = {}
        self.alerts = Alerts(config.alerts)
        # rabbitmq backend: the (channel, destination) pairs whose workers read notices
        broker = config.queue.backend == "rabbitmq"
        self.notified = notified(self.channels.values()) if broker else frozenset()
        self.publisher = NoticePublisher(config.queue.url, self.notified) if self.notified else None
        self.receiver = Receiver(self.writer, Router(plans), self._announce)
        self.listeners: dict[str, MllpListener] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._api_server: EmbeddedServer | None = None

    def destination_healthy(self, channel: str, destination: str) -> bool | None:
        """Whether this process's worker reaches the destination; None in a process that
        runs no workers (role receiver): it cannot know."""
        worker = self.workers.get((channel, destination))
        return None if worker is None else worker.healthy

    def _notify(self, channel: str, destination: str) -> None:
        worker = self.workers.get((channel, destination))
        if worker is not None:
            worker.notify()

    async def _announce(self, stored: list[tuple[str, str, int]]) -> None:
        """Deliveries just committed: a notice each on RabbitMQ (confirmed), or a local wake."""
        if self.publisher is not None:
            await self.publisher.publish([(c, d, did, 0.0) for c, d, did in stored])
        for channel, destination, _ in stored:
            self._notify(channel, destination)

    async def start(self) -> None:
        await asyncio.to_thread(migrate, self.database)
        if self.database.dialect.name == "sqlite" and self.role == "all":
            # SQLite with one process: claims left by a killed run are ours to retake. (Other
            # set-ups wait for the lease to run out: the claimer may still be alive.)
            await asyncio.to_thread(self._release_stale_claims)
        self._spawn(self.writer.run(), "writer")
        if self.role in ("all", "worker"):
            self._start_workers()
            watch = ReceiptWatch(
                self.database,
                list(self.channels.values()),
                self._announce,
                functools.partial(observe_settled, self.writer),
            )
            if watch.needed:
                self._spawn(watch.run(), "receipt watch")
            retention = Retention(
                self.database, [*self.channels.values()], self.config.engine.prune_every
            )
            if retention.needed:
                self._spawn(retention.run(), "retention")
        if self.role in ("all", "receiver"):
            await self._start_sources()
        if self.config.api.enabled:
            await self._start_api()
        log.info("engine.started", channels=len(self.channels), role=self.role)

    def _release_stale_claims(self) -> None:
        with self.database.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.status == DeliveryStatus.SENDING)
                .values(status=DeliveryStatus.QUEUED, lease_until=None)
            )

    def _start_workers(self) -> None:
        for channel in self.channels.values():
            for destination in channel.destination:
                worker = DestinationWorker(
                    channel.name,
                    destination.name,
                    [open_destination(destination) for _ in range(destination.connections)],
                    destination.retry,
                    self.writer,
                    self.config.queue,
                    self._claims(channel.name, destination),
                    alerts=self.alerts,
                )
                self.workers[(channel.name, destination.name)] = worker
                self._spawn(worker.run(), f"worker {channel.name}/{destination.name}")

    def _claims(self, channel: str, destination: Destination) -> ClaimSource:
        queue = self.config.queue
        request = ClaimRequest(
            channel, destination.name, destination.batch, queue.lease, bool(destination.order_by)
        )
        if self.publisher is None or (channel, destination.name) not in self.notified:
            return StoreClaims(self.writer, request, queue.poll)
        # twice the batch: the next batch arrives while the last one is being settled
        consumer = NoticeConsumer(queue.url, channel, destination.name, 2 * destination.batch)
        consumer.start()
        return NoticeClaims(
            self.writer, self.database, request, consumer, self.publisher, queue.poll, queue.sweep
        )

    async def _start_sources(self) -> None:
        for channel in self.channels.values():
            source = channel.source
            if isinstance(source, MllpSource):
                listener = MllpListener(channel.name, source, self.receiver)
                await listener.start()
                self.listeners[channel.name] = listener
            elif isinstance(source, DirectorySource):
                poller = DirectoryPoller(channel.name, source, self.receiver)
                self._spawn(poller.run(), f"directory {channel.name}")

    async def _start_api(self) -> None:
        from engine.api.app import create_app, create_worker_app
        from engine.api.server import embedded_server

        app = create_worker_app(self) if self.role == "worker" else create_app(self)
        self._api_server = embedded_server(app, self.config.api)
        self._spawn(self._api_server.serve(), "api")
        while not self._api_server.started:
            await asyncio.sleep(0.01)

    @property
    def api_port(self) -> int:
        return self._api_server.port if self._api_server else 0

    def _spawn(self, coroutine: Any, name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        task.add_done_callback(_report_crash)
        self._tasks.append(task)

    async def run_until(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; a crashed core task ends the run with its error."""
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        for task in done:
            if task is not waiter and not task.cancelled() and task.exception():
                raise RuntimeError(f"engine task {task.get_name()!r} failed") from task.exception()

    async def stop(self) -> None:
        for listener in self.listeners.values():
            await listener.stop()
        if self._api_server is not None:
            self._api_server.should_exit = True
        for task in self._tasks:
            task.cancel()
        _, stuck = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT)
        if stuck:  # a stop must end even if a task ignores its cancellation
            log.error("engine.stop_timeout", tasks=sorted(t.get_name() for t in stuck))
        await self.alerts.drain()
        if self.publisher is not None:
            await self.publisher.close()
        self.writer.close()
        self.database.dispose()


def _report_crash(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("engine.task_crashed", task=task.get_name(), error=repr(task.exception()))
