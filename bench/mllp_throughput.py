"""MLLP in → store → deliver to an MLLP sink, beside a bare asyncio MLLP echo server.

Both are measured in the same run with the same load generator (C concurrent
connections, each sending its next message when the previous ACK arrives), because
this machine is shared and noisy: the ratio between them is the figure that matters.

    python bench/mllp_throughput.py [--messages 20000] [--connections 10]

Prints a table and writes bench/results/mllp_throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kanal_process import lab_channel, memory_mb, start_engine, wait_listening

from engine.devservers.ports import free_port
from engine.simulators.mllp_client import MllpClient

RESULTS = Path(__file__).parent / "results"
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


async def load(port: int, total: int, connections: int, tag: str) -> tuple[float, list[float]]:
    """Elapsed seconds and per-message latencies (ms) for `total` request/ACK round trips."""
    latencies: list[float] = []
    per_connection = total // connections

    async def one(conn: int) -> None:
        async with MllpClient("127.0.0.1", port, timeout=60) as client:
            for i in range(per_connection):
                started = time.perf_counter()
                await client.exchange(message(f"{tag}{conn:02d}-{i:06d}"))
                latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in range(connections)))
    return time.perf_counter() - started, latencies


def summary(elapsed: float, latencies: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "messages": len(latencies),
        "seconds": round(elapsed, 3),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(cuts[49], 3),
        "p99_ms": round(cuts[98], 3),
    }


async def baseline(total: int, connections: int) -> dict[str, float]:
    port = free_port()
    server = await asyncio.create_subprocess_exec(sys.executable, "-c", ECHO_SERVER, str(port))
    try:
        await wait_listening(port, server)
        return summary(*await load(port, total, connections, "E"))
    finally:
        server.kill()
        await server.wait()


async def start_sink() -> tuple[asyncio.subprocess.Process, int]:
    """The EPJ simulator in its own process, so it does not share the load generator's CPU."""
    sink = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "engine.simulators.epj",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
    )
    assert sink.stdout is not None
    return sink, json.loads(await sink.stdout.readline())["listening"]


async def stop_sink(sink: asyncio.subprocess.Process) -> dict[str, int]:
    sink.terminate()
    assert sink.stdout is not None
    report = json.loads(await sink.stdout.readline())
    await sink.wait()
    return report


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
    total: int, connections: int, folder: Path, profile: Path | None = None
) -> dict[str, float]:
    sink, sink_port = await start_sink()
    port = free_port()
    config = lab_channel(
        folder, port, sink_port, "[api]\nenabled = false\n", batch=500, connections=4
    )
    engine = await start_engine(config, log_level="warning")
    profiler = None
    try:
        await wait_listening(port, engine)
        if profile:  # py-spy samples every thread, the store's writer thread included
            profiler = await asyncio.create_subprocess_exec(
                "py-spy",
                "record",
                "--format",
                "raw",
                "--output",
                str(profile.resolve()),
                "--pid",
                str(engine.pid),
            )
        started = time.perf_counter()
        ingest = summary(*await load(port, total, connections, "K"))
        await asyncio.wait_for(wait_delivered(folder / "var" / "kanal.db", total), 600)
        end_to_end = time.perf_counter() - started
        rss = memory_mb(engine.pid)
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            await profiler.wait()
        engine.terminate()
        await engine.wait()
        received = await stop_sink(sink)
    return {
        **ingest,
        "end_to_end_seconds": round(end_to_end, 3),
        "end_to_end_per_second": round(total / end_to_end, 1),
        "delivered": received["received"],
        "duplicates": received["duplicates"],
        "engine_peak_rss_mb": rss,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--profile", type=Path, help="record the engine with py-spy (raw)")
    args = parser.parse_args()
    echo = await baseline(args.messages, args.connections)
    with tempfile.TemporaryDirectory(prefix="kanal-bench-") as folder:
        engine = await kanal(args.messages, args.connections, Path(folder), args.profile)
    result = {
        "benchmark": "mllp_throughput",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "connections": args.connections,
        "baseline_echo": echo,
        "kanal": engine,
        "ratio_ingest_vs_echo": round(engine["per_second"] / echo["per_second"], 3),
        "ratio_end_to_end_vs_echo": round(engine["end_to_end_per_second"] / echo["per_second"], 3),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mllp_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'':28}{'msg/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    print(
        f"{'bare asyncio echo':28}{echo['per_second']:>10}{echo['p50_ms']:>10}{echo['p99_ms']:>10}"
    )
    print(
        f"{'kanal ingest (to ACK)':28}{engine['per_second']:>10}{engine['p50_ms']:>10}"
        f"{engine['p99_ms']:>10}"
    )
    print(f"{'kanal end to end':28}{engine['end_to_end_per_second']:>10}")
    print(
        f"ratio ingest/echo {result['ratio_ingest_vs_echo']}, "
        f"end-to-end/echo {result['ratio_end_to_end_vs_echo']}; "
        f"delivered {engine['delivered']}, duplicates {engine['duplicates']}, "
        f"engine peak RSS {engine['engine_peak_rss_mb']} MB"
    )


if __name__ == "__main__":
    asyncio.run(main())
