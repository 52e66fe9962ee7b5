"""HTTP in → store → FHIR sink, beside a bare HTTP server answering 202.

Both are measured in the same run with the same load generator (httpx, C concurrent
workers, each posting its next message when the previous answer arrived), because this
machine is shared and noisy: the ratio between them is the figure that matters.

The message is our synthetic MedCom CareCommunication (fixtures/fhir/carecommunication.json),
each copy with fresh Bundle, MessageHeader, Communication and Provenance ids as a sender
makes them (same ids would be MedCom duplicates: stored, answered, not delivered again). It
is posted to the channel's HTTP ingest with a `source` token, asking for the MedCom
Acknowledgement as the answer (Accept: application/fhir+json), as a FHIR messaging sender
does. Kanal delivers it as is, with no mapping, to the receiver's FHIR mailbox
($process-message): that is what a Danish receiver on FHIR takes, and MedCom's reliable
messaging ties the receiver's Acknowledgement to the Bundle and MessageHeader ids the
sender chose, so a broker must not rewrite the message. The one CareCommunication mapping
in mappings/ (carecommunication-to-xdis91) is for receivers still on OIOXML, not FHIR.

The sink is the municipality simulator (engine.simulators.municipality) in its own
process. It answers each message with an ok Acknowledgement, so a delivery ends
ACKNOWLEDGED rather than SENT; end to end is from the first post until the store has every
delivery settled.

Beside msg/s, each side's CPU per message (from /proc) is kept: httpx costs about a
millisecond of CPU a request, more than the bare server, so the baseline measures the
load generator's ceiling and the msg/s ratio flatters Kanal; server CPU per message does
not depend on the generator. Kanal's ingest CPU includes the deliveries running meanwhile.

    python bench/http_fhir.py [--messages 5000] [--connections 10]

Prints a table and writes bench/results/http_fhir.json and bench/results/http_fhir.png.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import sys
import tempfile
import textwrap
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from charts import bars
from kanal_process import (
    cpu_seconds,
    memory_mb,
    start_engine,
    start_sink,
    stop_engine,
    stop_sink,
    wait_listening,
)
from results_file import header, summary, write

from engine.devservers.ports import free_port

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "fhir" / "carecommunication.json"
CHANNEL = "carecommunication"
FHIR_JSON = "application/fhir+json"
# a new message gets new ids for these; the patient and the organisations stay who they are
FRESH = ("MessageHeader", "Communication", "Provenance")
SETTLED = ("SENT", "ACKNOWLEDGED", "DEAD", "CANCELLED")

# The HTTP stack of the engine's API (uvicorn's defaults: uvloop, h11), minus all Kanal does
BARE_SERVER = textwrap.dedent("""
    import sys, uvicorn
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 202, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                lifespan="off")
""")

# The municipality simulator has no `python -m` entry: run it here, report like the EPJ's


def messages(total: int) -> list[bytes]:
    """`total` CareCommunications, each with its own message ids (made before timing)."""
    text = FIXTURE.read_text(encoding="utf-8")
    bundle = json.loads(text)
    old = [bundle["id"]] + [
        entry["resource"]["id"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] in FRESH
    ]
    bodies = []
    for _ in range(total):
        copy = text
        for id_ in old:
            copy = copy.replace(id_, str(uuid.uuid4()))
        bodies.append(copy.encode())
    return bodies


def post_headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": f"{FHIR_JSON}; charset=utf-8",
        "Accept": FHIR_JSON,  # the MedCom Acknowledgement itself is the answer
    }


async def load(
    url: str, bodies: list[bytes], connections: int, headers: dict[str, str]
) -> tuple[float, list[float], Counter[str]]:
    """Elapsed seconds, latencies (ms) of the 202s, and every other answer by status."""
    latencies: list[float] = []
    refused: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    async def one(client: httpx.AsyncClient, part: list[bytes]) -> None:
        for body in part:
            started = time.perf_counter()
            response = await client.post(url, content=body)
            if response.status_code == 202:
                latencies.append((time.perf_counter() - started) * 1000)
            else:  # kept, not raised: a refusal is a finding, and the run goes on
                refused[f"{response.status_code} {response.text[:200]}"] += 1

    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(one(client, bodies[c::connections]) for c in range(connections)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, refused


async def measure(
    url: str, bodies: list[bytes], connections: int, headers: dict[str, str], server: int
) -> dict[str, Any]:
    """The load's summary, with the CPU per message of the server (process id `server`) and
    of the load generator: when the generator is the busier, it sets the pace."""
    server_before, load_before = cpu_seconds(server), time.process_time()
    elapsed, latencies, refused = await load(url, bodies, connections, headers)
    result: dict[str, Any] = {**summary(elapsed, latencies), "refused": dict(refused)}
    count = max(result["messages"], 1)
    result["server_cpu_ms"] = round((cpu_seconds(server) - server_before) * 1000 / count, 3)
    result["load_cpu_ms"] = round((time.process_time() - load_before) * 1000 / count, 3)
    return result


async def baseline(bodies: list[bytes], connections: int) -> dict[str, Any]:
    port = free_port()
    server = await asyncio.create_subprocess_exec(sys.executable, "-c", BARE_SERVER, str(port))
    try:
        await wait_listening(port, server)
        url = f"http://127.0.0.1:{port}/api/v1/channels/{CHANNEL}/messages"
        headers = post_headers("the-bare-server-reads-no-token")
        return await measure(url, bodies, connections, headers, server.pid)
    finally:
        server.kill()
        await server.wait()


def write_config(folder: Path, api_port: int, sink_port: int) -> Path:
    """engine.toml (API on `api_port`) and the channel: HTTP in → FHIR messaging out."""
    (folder / "channels").mkdir(parents=True)
    (folder / "channels" / f"{CHANNEL}.toml").write_text(
        textwrap.dedent(f"""
        [channel]
        name = "{CHANNEL}"
        description = "MedCom CareCommunication over HTTP, delivered as is"
        [source]
        type = "http"
        [[destination]]
        name = "municipality"
        type = "fhir"
        base_url = "http://127.0.0.1:{sink_port}/fhir"
        mode = "process-message"
        batch = 500
        connections = 4
        """)
    )
    config = folder / "engine.toml"
    config.write_text(f'[api]\nlisten = "127.0.0.1:{api_port}"\n')
    return config


async def create_token(config: Path) -> str:
    """A `source` token for the channel, made by `kanal token create` in the same store."""
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine", "token", "create", "--role", "source",
        "--channel", CHANNEL, "--config", str(config),
        cwd=config.parent, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await command.communicate()
    if command.returncode != 0:
        raise RuntimeError(f"kanal token create failed ({command.returncode})")
    return out.decode().strip().splitlines()[-1]  # the token is printed last, alone


def delivery_states(database: Path) -> dict[str, int]:
    """Deliveries by status, read-only: the engine owns the store."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status")
        return dict(rows.fetchall())


async def wait_settled(database: Path, total: int, timeout: float) -> dict[str, int]:
    """Until `total` deliveries are settled (sent, acknowledged or given up), or `timeout`:
    either way the states, so that a stuck run reports where it stuck."""
    deadline = time.perf_counter() + timeout
    while True:
        states = delivery_states(database)
        if sum(states.get(s, 0) for s in SETTLED) >= total or time.perf_counter() > deadline:
            return states
        await asyncio.sleep(0.05)


async def kanal(bodies: list[bytes], connections: int, folder: Path) -> dict[str, Any]:
    sink, sink_port = await start_sink("-m", "engine.simulators.municipality", "--port", "0")
    api_port = free_port()
    config = write_config(folder, api_port, sink_port)
    token = await create_token(config)
    engine = await start_engine(config, log_level="warning")
    try:
        await wait_listening(api_port, engine)
        url = f"http://127.0.0.1:{api_port}/api/v1/channels/{CHANNEL}/messages"
        started, cpu = time.perf_counter(), (cpu_seconds(engine.pid), cpu_seconds(sink.pid))
        ingest = await measure(url, bodies, connections, post_headers(token), engine.pid)
        states = await wait_settled(folder / "var" / "kanal.db", ingest["messages"], 600)
        end_to_end = time.perf_counter() - started
        cpu = (cpu_seconds(engine.pid) - cpu[0], cpu_seconds(sink.pid) - cpu[1])
        rss = memory_mb(engine.pid)
    finally:
        await stop_engine(engine)
        received = await stop_sink(sink)
    done = states.get("SENT", 0) + states.get("ACKNOWLEDGED", 0)
    per_message = 1000 / max(done, 1)
    return {
        **ingest,
        "end_to_end_seconds": round(end_to_end, 3),
        "end_to_end_per_second": round(done / end_to_end, 1),
        "deliveries": states,
        "delivered": received["received"],
        "duplicates": received["duplicates"],
        "engine_cpu_ms_end_to_end": round(cpu[0] * per_message, 3),
        "sink_cpu_ms": round(cpu[1] * per_message, 3),
        "engine_peak_rss_mb": rss,
    }


def report(result: dict[str, Any]) -> None:
    bare, engine = result["baseline_http"], result["kanal"]
    print(f"{'':28}{'msg/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'server CPU':>12}{'load CPU':>10}")
    rows = [("bare HTTP server (202)", bare), ("kanal ingest (to 202)", engine)]
    for name, row in rows:
        print(
            f"{name:28}{row['per_second']:>10}{row['p50_ms']:>10}{row['p99_ms']:>10}"
            f"{row['server_cpu_ms']:>12}{row['load_cpu_ms']:>10}"
        )
    print(
        f"{'kanal end to end':28}{engine['end_to_end_per_second']:>10}{'':20}"
        f"{engine['engine_cpu_ms_end_to_end']:>12}"
    )
    print(f"(CPU: ms per message; the FHIR sink used {engine['sink_cpu_ms']} ms per message)")
    print(
        f"ratio ingest/bare {result['ratio_ingest_vs_baseline']}, "
        f"end-to-end/bare {result['ratio_end_to_end_vs_baseline']}; "
        f"delivered {engine['delivered']}, duplicates {engine['duplicates']}, "
        f"deliveries {engine['deliveries']}, engine peak RSS {engine['engine_peak_rss_mb']} MB"
    )
    for name, row in rows:
        if row["refused"]:
            print(f"{name} refused: {row['refused']}")


def chart(result: dict[str, Any], path: Path) -> None:
    bare, engine = result["baseline_http"], result["kanal"]
    bars(
        path,
        f"HTTP → store → FHIR sink, {engine['messages']} CareCommunications, "
        f"{result['connections']} connections",
        "messages/s",
        {
            "bare HTTP server": {"messages/s": bare["per_second"]},
            "kanal ingest (to 202)": {"messages/s": engine["per_second"]},
            "kanal end to end": {"messages/s": engine["end_to_end_per_second"]},
        },
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    bodies = messages(args.messages)
    bare = await baseline(bodies, args.connections)
    with tempfile.TemporaryDirectory(prefix="kanal-bench-") as folder:
        engine = await kanal(bodies, args.connections, Path(folder))
    result = {
        **header("http_fhir"),
        "connections": args.connections,
        "message": f"{FIXTURE.name}, {len(bodies[0])} bytes",
        "baseline_http": bare,
        "kanal": engine,
        "ratio_ingest_vs_baseline": round(engine["per_second"] / bare["per_second"], 3),
        "ratio_end_to_end_vs_baseline": round(
            engine["end_to_end_per_second"] / bare["per_second"], 3
        ),
    }
    write(result, chart)
    report(result)


if __name__ == "__main__":
    asyncio.run(main())
