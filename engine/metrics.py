"""Prometheus metrics: one registry per engine, and the hooks the pipeline calls.

What is counted (one registry per engine, so several engines in one process never mix):

    kanal_messages_received_total{channel,status}      messages committed (ROUTED, FILTERED, ERROR)
    kanal_deliveries_finished_total{channel,destination,outcome}   SENT, ACKNOWLEDGED, DEAD
    kanal_deliveries_settled_total{channel,destination,outcome}    after SENT, awaiting a
                                        MedCom receipt: ACKNOWLEDGED, DEAD or RETRYING by the
                                        receipt; QUEUED (sent again) or DEAD by the watch
    kanal_delivery_attempt_seconds{channel,destination,verdict}   histogram: ok, transient,
                                                                  fatal, unreachable
    kanal_queue_depth{channel,destination,status}      open deliveries (QUEUED, RETRYING,
                                                       SENDING), read from the store on scrape
    kanal_store_commit_seconds                         histogram: the writer's group commits

The hooks find the engine's metrics through its writer (every pipeline stage holds it):
a dictionary lookup and a counter increment, cheap enough for the hot path. Counters live
in the process: each process (receiver, worker) counts what it did itself.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import Engine as Database
from sqlalchemy import func, select

from engine.store.schema import OPEN_DELIVERY, DeliveryStatus, MessageStatus, deliveries

if TYPE_CHECKING:
    from engine.pipeline.items import Incoming, Outcome, Settled

FINISHED = (DeliveryStatus.SENT, DeliveryStatus.ACKNOWLEDGED, DeliveryStatus.DEAD)
QUEUE_CACHE = 5.0  # seconds a queue-depth reading is reused: scrapes never load the store

# Delivery attempts: a local MLLP partner answers in a millisecond, a slow SOAP service in
# seconds; a timeout is at most a minute or so.
ATTEMPT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class Metrics:
    """One engine's metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            "kanal_messages_received",
            "Messages committed to the store, by channel and status",
            ["channel", "status"],
            registry=self.registry,
        )
        self.finished = Counter(
            "kanal_deliveries_finished",
            "Deliveries finished, by channel, destination and outcome (final status)",
            ["channel", "destination", "outcome"],
            registry=self.registry,
        )
        self.settled = Counter(
            "kanal_deliveries_settled",
            "Sent deliveries settled by a MedCom receipt or the receipt watch, by channel, "
            "destination and outcome (new status)",
            ["channel", "destination", "outcome"],
            registry=self.registry,
        )
        self.attempt_seconds = Histogram(
            "kanal_delivery_attempt_seconds",
            "Delivery attempt latency, by channel, destination and verdict",
            ["channel", "destination", "verdict"],
            buckets=ATTEMPT_BUCKETS,
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "kanal_store_commit_seconds",
            "Latency of the store writer's group commits",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )
        self._queue: QueueDepth | None = None

    def watch_queues(self, database: Database, pairs: Iterable[tuple[str, str]]) -> None:
        """Report queue depth for these (channel, destination) pairs from the store."""
        if self._queue is None:
            self._queue = QueueDepth(database, pairs, QUEUE_CACHE)
            self.registry.register(self._queue)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


# The engines' metrics, found through their writer (weakly: a stopped engine's go).
_BY_WRITER: weakref.WeakKeyDictionary[object, Metrics] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def metrics_of(writer: object) -> Metrics:
    """The metrics of the engine this writer belongs to (made at first use)."""
    metrics = _BY_WRITER.get(writer)
    if metrics is None:
        with _LOCK:
            metrics = _BY_WRITER.get(writer)
            if metrics is None:
                metrics = _BY_WRITER[writer] = Metrics()
    return metrics


# --- hooks: one line each in the pipeline ---------------------------------------------


def observe_received(writer: object, channel: str, items: Sequence[Incoming]) -> None:
    """Messages just committed (engine.pipeline.receive)."""
    counter = metrics_of(writer).received
    for item in items:
        if item.error:
            status = MessageStatus.ERROR
        else:
            status = item.route.status if item.route is not None else MessageStatus.ERROR
        counter.labels(channel, status).inc()


def observe_attempt(writer: object, channel: str, destination: str, outcome: Outcome) -> None:
    """One delivery attempt decided (engine.pipeline.worker)."""
    metrics = metrics_of(writer)
    metrics.attempt_seconds.labels(channel, destination, outcome.verdict).observe(
        outcome.duration_ms / 1000
    )
    if outcome.status in FINISHED:
        metrics.finished.labels(channel, destination, outcome.status).inc()


def observe_settled(writer: object, settled: Sequence[Settled]) -> None:
    """Sent deliveries a receipt or the receipt watch just moved (engine.pipeline)."""
    counter = metrics_of(writer).settled
    for each in settled:
        counter.labels(each.channel, each.destination, each.status).inc()


class commit_timer:  # used like a function: `with commit_timer(self), ...`
    """Times one store commit (engine.store.writer); a failed commit is not observed."""

    __slots__ = ("_histogram", "_started")

    def __init__(self, writer: object):
        self._histogram = metrics_of(writer).commit_seconds
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            self._histogram.observe(time.perf_counter() - self._started)


# --- queue depth, read on scrape ------------------------------------------------------


class QueueDepth(Collector):
    """kanal_queue_depth from one grouped query, reused for QUEUE_CACHE seconds.

    The query names the configured channels and destinations, so it reads only their
    part of ix_deliveries_queue (channel, destination, status, …), however many finished
    deliveries the store holds.
    """

    def __init__(self, database: Database, pairs: Iterable[tuple[str, str]], cache: float):
        self._database = database
        self._pairs = sorted(set(pairs))
        self._cache = cache
        self._lock = threading.Lock()
        self._read_at = -cache
        self._depth: dict[tuple[str, str, str], int] = {}

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "kanal_queue_depth",
            "Open deliveries (queued, retrying, being sent) per destination",
            labels=["channel", "destination", "status"],
        )
        for (channel, destination, status), count in sorted(self._read().items()):
            family.add_metric([channel, destination, status], count)
        yield family

    def describe(self) -> Iterator[Metric]:  # no store read when the collector registers
        yield GaugeMetricFamily(
            "kanal_queue_depth",
            "Open deliveries (queued, retrying, being sent) per destination",
            labels=["channel", "destination", "status"],
        )

    def _read(self) -> dict[tuple[str, str, str], int]:
        with self._lock:
            if time.monotonic() - self._read_at >= self._cache:
                self._depth = self._query()
                self._read_at = time.monotonic()
            return self._depth

    def _query(self) -> dict[tuple[str, str, str], int]:
        # every configured pair and state reported, 0 included: series do not vanish
        depth = {(c, d, s): 0 for c, d in self._pairs for s in OPEN_DELIVERY}
        if not self._pairs:
            return depth
        col = deliveries.c
        query = (
            select(col.channel, col.destination, col.status, func.count())
            .where(
                col.channel.in_(sorted({c for c, _ in self._pairs})),
                col.destination.in_(sorted({d for _, d in self._pairs})),
                col.status.in_(OPEN_DELIVERY),
            )
            .group_by(col.channel, col.destination, col.status)
        )
        with self._database.connect() as conn:
            for channel, destination, status, count in conn.execute(query):
                if (channel, destination, status) in depth:
                    depth[(channel, destination, status)] = int(count)
        return depth
