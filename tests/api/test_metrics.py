"""GET /metrics: Prometheus text, one registry per engine, counters that move."""

from __future__ import annotations

import asyncio

import httpx
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
from prometheus_client.parser import text_string_to_metric_families

from engine.simulators.epj import Faults
from engine.simulators.mllp_client import send_all


async def scrape(engine) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The engine's own /metrics over HTTP (open, like /healthz: no token)."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.api_port}") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples_of(response.text)


def samples_of(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_counters_histograms_and_queue_depth(start_engine, epj, monkeypatch):
    monkeypatch.setattr("engine.metrics.QUEUE_CACHE", 0.0)  # read the store every scrape
    epj.faults = Faults(reject_marker="POISON")  # AE: fatal, the delivery is DEAD
    down = free_port()  # nothing listens: its deliveries stay queued
    engine = await start_engine(
        {
            **mllp_in("adt", to_mllp("epj", epj.port, retry='{ initial = "50ms" }')),
            **mllp_in("lab", to_mllp("down", down, retry='{ initial = "10s" }')),
        }
    )
    before = await scrape(engine)
    assert value(before, "kanal_messages_received_total", channel="adt", status="ROUTED") == 0
    frames = [hl7("OK-1"), hl7("OK-2"), hl7("BAD-1", extra="^POISON"), b"not hl7\r"]
    await send_all("127.0.0.1", engine.listeners["adt"].port, frames)
    await send_all("127.0.0.1", engine.listeners["lab"].port, [hl7("LAB-1"), hl7("LAB-2")])
    await eventually(lambda: delivery_count(engine, "SENT") == 2)
    await eventually(lambda: delivery_count(engine, "DEAD") == 1)

    samples = await scrape(engine)
    received = "kanal_messages_received_total"
    assert value(samples, received, channel="adt", status="ROUTED") == 3
    assert value(samples, received, channel="adt", status="ERROR") == 1
    assert value(samples, received, channel="lab", status="ROUTED") == 2

    finished = "kanal_deliveries_finished_total"
    assert value(samples, finished, channel="adt", destination="epj", outcome="SENT") == 2
    assert value(samples, finished, channel="adt", destination="epj", outcome="DEAD") == 1
    assert value(samples, finished, channel="lab", destination="down", outcome="SENT") == 0

    attempts = "kanal_delivery_attempt_seconds_count"
    assert value(samples, attempts, channel="adt", destination="epj", verdict="ok") == 2
    assert value(samples, attempts, channel="adt", destination="epj", verdict="fatal") == 1
    assert value(samples, attempts, channel="lab", destination="down", verdict="unreachable") >= 1
    latency = "kanal_delivery_attempt_seconds_sum"
    assert value(samples, latency, channel="adt", destination="epj", verdict="ok") > 0

    # open deliveries per destination, from the store: the unreachable one holds both
    depth = "kanal_queue_depth"
    open_lab = sum(
        value(samples, depth, channel="lab", destination="down", status=status)
        for status in ("QUEUED", "RETRYING", "SENDING")
    )
    assert open_lab == 2
    assert value(samples, depth, channel="adt", destination="epj", status="QUEUED") == 0

    assert value(samples, "kanal_store_commit_seconds_count") > value(
        before, "kanal_store_commit_seconds_count"
    )


async def test_each_engine_counts_its_own(start_engine, epj, tmp_path):
    first = await start_engine(mllp_in("adt", to_mllp("epj", epj.port)))
    await send_all("127.0.0.1", first.listeners["adt"].port, [hl7("ONE-1")])
    await eventually(lambda: delivery_count(first, "SENT") == 1)
    second = await start_engine(
        mllp_in("adt", to_mllp("epj", epj.port)),
        engine_toml='[api]\nlisten = "127.0.0.1:0"\n[store]\nurl = "sqlite:///second.db"\n',
    )
    received = "kanal_messages_received_total"
    assert value(await scrape(first), received, channel="adt", status="ROUTED") == 1
    assert value(await scrape(second), received, channel="adt", status="ROUTED") == 0


async def test_a_worker_process_serves_health_and_metrics_where_listen_says(tmp_path, epj):
    """Workers have no API, but Prometheus must see what each one delivered."""
    port, api, worker_http = free_port(), free_port(), free_port()
    channels = mllp_in("adt", to_mllp("epj", epj.port), port=port)
    config = write_config(tmp_path, channels, f'[api]\nlisten = "127.0.0.1:{api}"\n')
    receiver = await start_engine_process(config, port, role="receiver")
    listen = ("--listen", f"127.0.0.1:{worker_http}")
    worker = await start_engine_process(config, worker_http, role="worker", options=listen)
    try:
        await send_all("127.0.0.1", port, [hl7("W-1"), hl7("W-2")])
        await eventually(lambda: len(epj.received) == 2)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker_http}") as client:
            assert (await client.get("/healthz")).json()["failing_destinations"] == []
            assert (await client.get("/api/v1/channels")).status_code == 404  # not the API
            finished = "kanal_deliveries_finished_total"
            sent = {"channel": "adt", "destination": "epj", "outcome": "SENT"}
            for _ in range(50):  # counted once the outcome is committed
                samples = samples_of((await client.get("/metrics")).text)
                if value(samples, finished, **sent) == 2:
                    break
                await asyncio.sleep(0.1)
            assert value(samples, finished, **sent) == 2
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api}") as client:
            received = samples_of((await client.get("/metrics")).text)  # what it received
        assert value(received, "kanal_messages_received_total", channel="adt", status="ROUTED") == 2
    finally:
        for process in (worker, receiver):
            await stop_process(process)
