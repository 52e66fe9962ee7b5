"""Queue names and wait buckets of the rabbitmq backend."""

from __future__ import annotations

from collections.abc import Iterable

from engine.config import ChannelConfig

# Wait queues with fixed TTLs (ms): a delay is rounded up to the next bucket, so a long
# wait never sits in front of a short one (RabbitMQ expires only at a queue's head).
BUCKETS_MS = (100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000)


def work_queue(channel: str, destination: str) -> str:
    return f"kanal.work.{channel}.{destination}"


def wait_queue(channel: str, destination: str, bucket_ms: int) -> str:
    return f"kanal.wait.{channel}.{destination}.{bucket_ms}"


def bucket_for(delay: float) -> int:
    """The smallest bucket at least `delay` seconds long (the longest one beyond that)."""
    wanted = delay * 1000
    return next((ms for ms in BUCKETS_MS if ms >= wanted), BUCKETS_MS[-1])


def notified(channels: Iterable[ChannelConfig]) -> frozenset[tuple[str, str]]:
    """The (channel, destination) pairs whose workers read notices. An ordered destination
    claims from the store instead (a notice cannot wait for its key): it gets none."""
    return frozenset((c.name, d.name) for c in channels for d in c.destination if not d.order_by)
