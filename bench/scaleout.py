"""Delivery throughput with 1, 2 and 4 worker processes, per queue backend and store:
sql/SQLite, sql/PostgreSQL and rabbitmq/PostgreSQL, in one run, beside a bare baseline
(the same clients sending straight to the same MLLP sink). Each row also says how fast
the receiver took the messages in (stored, notices confirmed, ACKed).

A receiver process takes M messages over MLLP while no worker runs; then N worker
processes (`kanal run --role worker`) start and deliver them to an MLLP sink. The figure
is messages/s between the first and the last arrival at the sink (start-up excluded).
PostgreSQL and RabbitMQ are private servers on loopback (scripts/install-servers).

    python bench/scaleout.py [--messages 4000] [--workers 1 2 4] [--connections 8]

Writes bench/results/scaleout.json and bench/results/scaleout.png.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from charts import MACHINE, pyplot, save
from kanal_process import lab_channel, start_engine, stop_engine, wait_listening
from results_file import header, write

from engine.devservers.ports import free_port
from engine.devservers.postgres import PostgreSQL
from engine.devservers.rabbitmq import RabbitMQ
from engine.simulators.epj import EpjSimulator
from engine.simulators.mllp_client import MllpClient


def message(control_id: str) -> bytes:
    return (
        f"MSH|^~\\&|LAB|RHH|KANAL|KANAL|20250314093000||ORU^R01^ORU_R01|{control_id}|P|2.5\r"
        "PID|1||0101451234^^^CPR^NNDN||Jensen^Anna||19450101|F\r"
        "OBX|1|NM|NPU02319^Haemoglobin;B^NPU||8.4|mmol/L|8.3-10.5|N|||F\r"
    ).encode()


async def send(port: int, ids: list[str], connections: int) -> None:
    """`connections` clients, each sending its next message when the ACK arrives."""

    async def one(part: list[str]) -> None:
        async with MllpClient("127.0.0.1", port, timeout=60) as client:
            for control_id in part:
                await client.exchange(message(control_id))

    await asyncio.gather(*(one(ids[i::connections]) for i in range(connections)))


async def measure(
    store: str, queue: str, workers: int, count: int, sink: EpjSimulator, connections: int
) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="kanal-scaleout-"))
    port = free_port()
    toml = f'[api]\nenabled = false\n[store]\nurl = "{store}"\n{queue}\n'
    config = lab_channel(folder, port, sink.port, toml)
    receiver = await start_engine(config, "--role", "receiver")
    await wait_listening(port, receiver)
    tag = f"{folder.name}-"
    started = time.perf_counter()
    await send(port, [f"{tag}{i}" for i in range(count)], connections)
    ingest = count / (time.perf_counter() - started)
    await stop_engine(receiver)

    sink.arrivals.clear()
    processes = [await start_engine(config, "--role", "worker") for _ in range(workers)]
    try:
        async with asyncio.timeout(600):
            while sum(1 for key in sink.received if key.startswith(tag)) < count:
                await asyncio.sleep(0.05)
    finally:
        for process in processes:
            await stop_engine(process)
        shutil.rmtree(folder, ignore_errors=True)
    arrivals = sink.arrivals
    seconds = max(arrivals[-1] - arrivals[0], 1e-6)
    per_s = round((count - 1) / seconds)
    return {"workers": workers, "messages": count, "per_s": per_s, "ingest_per_s": round(ingest)}


async def baseline(sink: EpjSimulator, count: int, connections: int) -> float:
    started = time.perf_counter()
    await send(sink.port, [f"base-{i}" for i in range(count)], connections)
    return count / (time.perf_counter() - started)


async def main(count: int, worker_counts: list[int], connections: int) -> dict:
    postgres = PostgreSQL().start()
    rabbit_folder = Path(tempfile.mkdtemp(prefix="kanal-bench-rabbit-"))
    rabbitmq = RabbitMQ(rabbit_folder).start()
    sink = await EpjSimulator().start()
    rows = []
    try:
        sink_rate = await baseline(sink, count, connections)
        setups = {
            "sql/SQLite": lambda n: (f"sqlite:///{rabbit_folder}/sqlite-{n}/kanal.db", ""),
            "sql/PostgreSQL": lambda n: (postgres.create_database(f"sql{n}"), ""),
            "rabbitmq/PostgreSQL": lambda n: (
                postgres.create_database(f"rabbit{n}"),
                f'[queue]\nbackend = "rabbitmq"\nurl = "{rabbitmq.url}"',
            ),
        }
        for name, setup in setups.items():
            for workers in worker_counts:
                store, queue = setup(workers)
                row = await measure(store, queue, workers, count, sink, connections)
                row["setup"] = name
                rows.append(row)
                print(
                    f"{name:<22}{workers} worker(s) {row['per_s']:>8,} msg/s delivered"
                    f"  (receiver took them at {row['ingest_per_s']:,} msg/s)",
                    flush=True,
                )
    finally:
        await sink.stop()
        rabbitmq.close()
        postgres.close()
        shutil.rmtree(rabbit_folder, ignore_errors=True)
    print(f"{'baseline (bare sink)':<22}{connections} clients {sink_rate:>8,.0f} msg/s")
    return {"connections": connections, "baseline_sink_per_s": round(sink_rate), "rows": rows}


def chart(result: dict, path: Path) -> None:
    figure, axes = pyplot().subplots(figsize=(7, 4))
    for setup in dict.fromkeys(row["setup"] for row in result["rows"]):
        rows = [row for row in result["rows"] if row["setup"] == setup]
        axes.plot([r["workers"] for r in rows], [r["per_s"] for r in rows], marker="o", label=setup)
    axes.axhline(result["baseline_sink_per_s"], linestyle="--", color="grey", label="bare sink")
    axes.set_xlabel("worker processes")
    axes.set_ylabel("deliveries / s")
    axes.set_xticks(sorted({row["workers"] for row in result["rows"]}))
    axes.set_title(f"Kanal delivery throughput by worker processes ({MACHINE})")
    axes.legend()
    save(figure, path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--connections", type=int, default=8, help="MLLP senders")
    args = parser.parse_args()
    outcome = asyncio.run(main(args.messages, args.workers, args.connections))
    write({**header("scaleout"), **outcome}, chart)
