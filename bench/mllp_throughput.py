"""MLLP in → store → deliver to an MLLP sink, beside a bare asyncio MLLP echo server.

Both are measured in the same run with the same load generator, because this machine is
shared and noisy: the ratio between them is the figure that matters. Two phases:

- paced: `--rate` messages/s in all (default 1,000) over C connections for
  `--paced-seconds`; the receipt → ACK latency percentiles (goal: p99 ≤ 10 ms);
- flat out: C concurrent connections, each sending its next message when the previous ACK
  arrives; ingest msg/s, and end to end until the sink has every message (goal: 5,000/s),
  with the engine's CPU time per message (steadier than msg/s on a shared machine).

Each phase runs for each set-up: one engine process with 10 connections, and a receiver
and a worker process (`kanal run --role receiver` / `--role worker`) with 64 connections,
the one meant to reach the goal figures on a 2-core machine.

    python bench/mllp_throughput.py [--messages 40000] [--setup one-process]
        [--setup receiver-worker] [--connections N] [--lanes 4] [--rate 1000]
        [--profile stacks.raw]

Prints a table and writes bench/results/mllp_throughput.json and mllp_throughput.png.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sqlite3
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from charts import MACHINE, grouped, pyplot, save
from kanal_process import (
    cpu_seconds,
    lab_channel,
    memory_mb,
    start_engine,
    start_sink,
    stop_sink,
    wait_listening,
)
from results_file import header, summary, write

from engine.devservers.ports import free_port
from engine.simulators.mllp_client import MllpClient

GOAL_PER_SECOND = 5000  # end to end, on a 2-core machine
GOAL_P99_MS = 10.0  # receipt → ACK at the paced rate
PERCENTILES = {"p50": "p50_ms", "p99": "p99_ms", "p99.9": "p999_ms"}
ECHO_SERVER = textwrap.dedent("""
    import asyncio, sys
    ACK = b"\\x0bMSH|^~\\\\&|ECHO|ECHO|||20250101||ACK|1|P|2.5\\rMSA|AA|1\\r\\x1c\\r"
    async def serve(reader, writer):
        try:
            while True:
                await reader.readuntil(b"\\x1c\\r")
                writer.write(ACK)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
    async def main():
        server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
        async with server:
            await server.serve_forever()
    asyncio.run(main())
""")


def message(control_id: str) -> bytes:
    return (
        f"MSH|^~\\&|LAB|RHH|KANAL|KANAL|20250314093000||ORU^R01^ORU_R01|{control_id}|P|2.5\r"
        "PID|1||0101451234^^^CPR^NNDN~H123456^^^RHH^MR||Jensen^Anna||19450101|F\r"
        "OBR|1||LAB123|NPU02319^Haemoglobin^NPU\r"
        "OBX|1|NM|NPU02319^Haemoglobin;B^NPU||8.4|mmol/L|8.3-10.5|N|||F\r"
    ).encode()


@dataclass(frozen=True)
class Paced:
    rate: float  # messages/s in all, spread over the connections
    messages: int


async def load(
    port: int, total: int, connections: int, tag: str, rate: float | None = None
) -> tuple[float, list[float]]:
    """Elapsed seconds and per-message latencies (ms) for `total` request/ACK round trips:
    as fast as the ACKs come back, or paced at `rate` messages/s in all. Paced latency runs
    from when a message was due, so a late ACK also counts against the messages queued
    behind it (no coordinated omission)."""
    latencies: list[float] = []
    # every message is sent, the remainder by the first connections (the caller waits
    # for `total` to be delivered)
    share = [total // connections + (c < total % connections) for c in range(connections)]
    interval = connections / rate if rate else 0.0

    async def one(conn: int) -> None:
        async with MllpClient("127.0.0.1", port, timeout=60) as client:
            first = time.perf_counter() + conn * interval / connections  # spread the starts
            for i in range(share[conn]):
                due = first + i * interval
                if rate and (wait := due - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
                started = due if rate else time.perf_counter()
                await client.exchange(message(f"{tag}{conn:02d}-{i:06d}"))
                latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in range(connections)))
    return time.perf_counter() - started, latencies


async def baseline(total: int, connections: int, paced: Paced) -> dict[str, Any]:
    port = free_port()
    server = await asyncio.create_subprocess_exec(sys.executable, "-c", ECHO_SERVER, str(port))
    try:
        await wait_listening(port, server)
        at_rate = summary(*await load(port, paced.messages, connections, "P", paced.rate))
        return {**summary(*await load(port, total, connections, "E")), "paced": at_rate}
    finally:
        server.kill()
        await server.wait()


async def wait_delivered(database: Path, total: int) -> None:
    """Until the store says every delivery is SENT (read-only: the engine owns it)."""
    url = f"file:{database}?mode=ro"
    while True:
        with contextlib.closing(sqlite3.connect(url, uri=True)) as conn:
            sent = conn.execute("SELECT count(*) FROM deliveries WHERE status = 'SENT'")
            if sent.fetchone()[0] >= total:
                return
        await asyncio.sleep(0.05)


async def kanal(
    total: int,
    connections: int,
    lanes: int,
    paced: Paced,
    folder: Path,
    profile: Path | None = None,
    split: bool = False,
) -> dict[str, Any]:
    """First paced (ingest latency at a steady rate), then flat out (throughput). `split`:
    a receiver process and a worker process instead of one engine."""
    sink, sink_port = await start_sink("-m", "engine.simulators.epj", "--port", "0")
    port = free_port()
    config = lab_channel(
        folder, port, sink_port, "[api]\nenabled = false\n", batch=500, connections=lanes
    )
    roles = [["--role", "receiver"], ["--role", "worker"]] if split else [[]]
    engines = [await start_engine(config, *role, log_level="warning") for role in roles]
    engine = engines[0]
    database = folder / "var" / "kanal.db"
    profiler = None
    try:
        await wait_listening(port, engine)
        at_rate = summary(*await load(port, paced.messages, connections, "P", paced.rate))
        await asyncio.wait_for(wait_delivered(database, paced.messages), 600)
        if profile:
            profiler = await start_profiler(engine.pid, profile)
        cpu_before = sum(cpu_seconds(e.pid) for e in engines)
        started = time.perf_counter()
        ingest = summary(*await load(port, total, connections, "K"))
        await asyncio.wait_for(wait_delivered(database, paced.messages + total), 600)
        end_to_end = time.perf_counter() - started
        cpu = sum(cpu_seconds(e.pid) for e in engines) - cpu_before
        rss = max(memory_mb(e.pid) for e in engines)
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            await profiler.wait()
        for each in engines:
            each.terminate()
            await each.wait()
        received = await stop_sink(sink)
    return {
        **ingest,
        "end_to_end_seconds": round(end_to_end, 3),
        "end_to_end_per_second": round(total / end_to_end, 1),
        "delivered": received["received"],
        "duplicates": received["duplicates"],
        "engine_peak_rss_mb": rss,
        "engine_cpu_us_per_message": round(cpu / total * 1e6),
        "paced": at_rate,
    }


async def start_profiler(pid: int, output: Path) -> asyncio.subprocess.Process:
    """py-spy on the engine (every thread), raw stacks to `output`; stop it with SIGINT."""
    return await asyncio.create_subprocess_exec(
        "py-spy", "record", "--format", "raw", "--output", str(output.resolve()),
        "--pid", str(pid),
    )  # fmt: skip


@dataclass(frozen=True)
class Setup:
    connections: int  # senders, each waiting for its ACK before the next message
    split: bool  # a receiver and a worker process instead of one engine
    about: str


SETUPS = {
    "one-process": Setup(10, False, "one engine process, 10 connections"),
    "receiver-worker": Setup(
        64, True, "a receiver and a worker process on one store, 64 connections"
    ),
}
GOAL_SETUP = "receiver-worker"  # how the goal figures are meant to be reached on 2 cores
VERDICTS = {True: "met", False: "NOT met", None: "not measured in this run"}


def chart(result: dict[str, Any], path: Path) -> None:
    """Throughput (goal 5,000/s end to end) and ingest latency at the paced rate (goal p99
    10 ms) of each set-up, beside the bare echo server with as many connections."""
    setups = result["setups"]
    figure, (speed, latency) = pyplot().subplots(1, 2, figsize=(12, 4.8))
    grouped(
        speed,
        "messages / s",
        {
            "bare echo": {name: row["baseline_echo"]["per_second"] for name, row in setups.items()},
            "kanal ingest (to ACK)": {
                name: row["kanal"]["per_second"] for name, row in setups.items()
            },
            "kanal end to end": {
                name: row["kanal"]["end_to_end_per_second"] for name, row in setups.items()
            },
        },
        log=True,
        goal=GOAL_PER_SECOND,
    )
    speed.set_title("flat out", fontsize=10)
    grouped(
        latency,
        "ms",
        {
            f"{who} ({name})": {
                label: row[key]["paced"][field] for label, field in PERCENTILES.items()
            }
            for name, row in setups.items()
            for who, key in (("bare echo", "baseline_echo"), ("kanal", "kanal"))
        },
        goal=GOAL_P99_MS,
    )
    rate = result["paced"]["rate"]
    latency.set_title(f"receipt → ACK latency at {rate:,.0f} msg/s", fontsize=10)
    figure.suptitle(f"Kanal: MLLP → store → MLLP sink ({MACHINE})", fontsize=11)
    save(figure, path)


def report(result: dict[str, Any]) -> None:
    rate = f"at {result['paced']['rate']:,.0f}/s"
    for name, setup in result["setups"].items():
        echo, engine = setup["baseline_echo"], setup["kanal"]
        print(f"\n{name}: {setup['about']}")
        print(f"{'':30}{'msg/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'p99.9 ms':>10}")
        rows = [
            ("bare asyncio echo", echo),
            ("kanal ingest (to ACK)", engine),
            (f"bare echo {rate}", echo["paced"]),
            (f"kanal ingest {rate}", engine["paced"]),
        ]
        for label, row in rows:
            print(
                f"{label:30}{row['per_second']:>10}{row['p50_ms']:>10}{row['p99_ms']:>10}"
                f"{row['p999_ms']:>10}"
            )
        print(f"{'kanal end to end':30}{engine['end_to_end_per_second']:>10}")
        print(
            f"ratio ingest/echo {setup['ratio_ingest_vs_echo']}, "
            f"end-to-end/echo {setup['ratio_end_to_end_vs_echo']}; "
            f"delivered {engine['delivered']}, duplicates {engine['duplicates']}, "
            f"engine peak RSS {engine['engine_peak_rss_mb']} MB, "
            f"engine CPU {engine['engine_cpu_us_per_message']} µs/message"
        )
    goal = result["goal"]
    print(
        f"\ngoal ({goal['setup']}): {goal['per_second']:,}/s end to end and p99 ≤ "
        f"{goal['p99_ms']} ms {rate}: {VERDICTS[goal['met']]}"
    )


async def measure(
    name: str, setup: Setup, paced: Paced, args: argparse.Namespace
) -> dict[str, Any]:
    connections = args.connections or setup.connections
    echo = await baseline(args.messages, connections, paced)
    profile = args.profile and args.profile.with_name(f"{name}-{args.profile.name}")
    with tempfile.TemporaryDirectory(prefix="kanal-bench-") as folder:
        engine = await kanal(
            args.messages, connections, args.lanes, paced, Path(folder), profile, setup.split
        )
    return {
        "about": setup.about,
        "connections": connections,
        "split": setup.split,
        "baseline_echo": echo,
        "kanal": engine,
        "ratio_ingest_vs_echo": round(engine["per_second"] / echo["per_second"], 3),
        "ratio_end_to_end_vs_echo": round(engine["end_to_end_per_second"] / echo["per_second"], 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument(
        "--setup", choices=SETUPS, action="append", help="only this one (again for more)"
    )
    parser.add_argument("--connections", type=int, help="instead of each set-up's own")
    parser.add_argument("--lanes", type=int, default=4, help="connections to the sink")
    parser.add_argument("--rate", type=float, default=1000, help="paced phase, messages/s")
    parser.add_argument("--paced-seconds", type=float, default=10)
    parser.add_argument(
        "--profile", type=Path, help="record the receiving engine with py-spy (raw)"
    )
    args = parser.parse_args()
    paced = Paced(args.rate, int(args.rate * args.paced_seconds))
    setups = {
        name: await measure(name, SETUPS[name], paced, args) for name in args.setup or list(SETUPS)
    }
    goal_row = setups.get(GOAL_SETUP, {}).get("kanal")
    result = {
        **header("mllp_throughput"),
        "lanes": args.lanes,
        "paced": {"rate": paced.rate, "messages": paced.messages},
        "goal": {
            "setup": GOAL_SETUP,
            "per_second": GOAL_PER_SECOND,
            "p99_ms": GOAL_P99_MS,
            "met": None  # not measured in this run
            if goal_row is None
            else goal_row["end_to_end_per_second"] >= GOAL_PER_SECOND
            and goal_row["paced"]["p99_ms"] <= GOAL_P99_MS,
        },
        "setups": setups,
    }
    write(result, chart)
    report(result)


if __name__ == "__main__":
    asyncio.run(main())
