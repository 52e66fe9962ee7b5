"""Start-up time and memory with a large backlog: N messages queued for a destination that
is down, then `kanal run` is started. Measured beside a baseline in the same run: the same
engine on an empty store.

Start-up is the time from launching the process to its MLLP listener answering; memory
is the process's peak RSS after it has run for a while with the backlog (its workers
claiming and finding the destination down).

    python bench/capacity.py [--messages 1000000] [--settle 10]

Writes bench/results/capacity.json and bench/results/capacity.png.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from charts import MACHINE, grouped, pyplot, save
from kanal_process import lab_channel, memory_mb, start_engine, stop_engine, wait_listening
from results_file import header, write

from engine.devservers.ports import free_port
from engine.store.database import migrate, open_database
from engine.store.schema import DeliveryStatus, contents, deliveries, messages

STARTUP_GOAL_S = 5.0
MEMORY_GOAL_MB = 300.0
ENGINE_TOML = '[api]\nenabled = false\n[store]\nurl = "sqlite:///var/kanal.db"\n'
BATCH = 20_000
RAW = (
    b"MSH|^~\\&|LAB|RHH|KANAL|KANAL|20250314093000||ORU^R01^ORU_R01|C1|P|2.5\r"
    b"PID|1||0101451234^^^CPR^NNDN||Jensen^Anna||19450101|F\r"
    b"OBX|1|NM|NPU02319^Haemoglobin;B^NPU||8.4|mmol/L|8.3-10.5|N|||F\r"
)


def fill(store: Path, count: int) -> float:
    """`count` received messages, each with one queued delivery, in big transactions."""
    started = time.perf_counter()
    database = open_database(f"sqlite:///{store}", synchronous="OFF")
    migrate(database)
    now = time.time()
    for first in range(0, count, BATCH):
        ids = range(first + 1, min(first + BATCH, count) + 1)
        with database.begin() as conn:
            conn.execute(insert(messages), [_message(i, now) for i in ids])
            conn.execute(
                insert(contents),
                [{"message_id": i, "stage": "raw", "data": RAW, "created_at": now} for i in ids],
            )
            conn.execute(insert(deliveries), [_delivery(i, now) for i in ids])
        print(f"\r  filled {ids[-1]:,} / {count:,}", end="", flush=True)
    print()
    database.dispose()
    return time.perf_counter() - started


def _message(i: int, now: float) -> dict[str, object]:
    return dict(
        id=i, channel="lab", status="ROUTED", format="hl7v2", type="ORU^R01",
        control_id=f"C{i}", sender="LAB", receiver="KANAL", cpr="0101451234",
        size=len(RAW), received_at=now, updated_at=now,
    )  # fmt: skip


def _delivery(i: int, now: float) -> dict[str, object]:
    return dict(
        id=i, message_id=i, channel="lab", destination="sink", status=DeliveryStatus.QUEUED,
        attempts=0, next_attempt_at=now, created_at=now, updated_at=now,
    )  # fmt: skip


async def start_and_measure(config: Path, port: int, settle: float) -> dict[str, float]:
    started = time.perf_counter()
    process = await start_engine(config)
    try:
        await wait_listening(port, process, timeout=120)
        startup = time.perf_counter() - started
        await asyncio.sleep(settle)
        peak_mb, now_mb = memory_mb(process.pid), memory_mb(process.pid, "VmRSS")
    finally:
        await stop_engine(process)
    return {"startup_s": round(startup, 2), "peak_rss_mb": round(peak_mb), "rss_mb": round(now_mb)}


def runs(count: int) -> dict[str, int]:
    """The result's label for each run -> its backlog: the baseline first."""
    return {"empty store": 0, f"{count:,} queued": count}


async def main(count: int, settle: float) -> dict[str, object]:
    result: dict[str, object] = {"messages": count}
    for label, backlog in runs(count).items():
        folder = Path(tempfile.mkdtemp(prefix="kanal-capacity-"))
        try:
            port = free_port()
            config = lab_channel(folder, port, free_port(), ENGINE_TOML)  # the sink is down
            if backlog:
                result["fill_s"] = round(fill(folder / "var" / "kanal.db", backlog), 1)
            figures = await start_and_measure(config, port, settle)
            result[label] = figures
            print(
                f"{label:<20} start-up {figures['startup_s']:>6.2f} s   "
                f"RSS {figures['rss_mb']:>5} MB (peak {figures['peak_rss_mb']} MB)"
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return result


def chart(result: dict[str, Any], path: Path) -> None:
    """Start-up and memory side by side, each against its goal."""
    figures = {label: result[label] for label in runs(result["messages"])}
    figure, (startup, memory) = pyplot().subplots(
        1, 2, figsize=(9, 4.6), gridspec_kw={"width_ratios": [1, 2]}
    )
    grouped(
        startup,
        "seconds",
        {label: {"start-up to MLLP listening": f["startup_s"]} for label, f in figures.items()},
        goal=STARTUP_GOAL_S,
    )
    grouped(
        memory,
        "resident memory, MB",
        {label: {"RSS": f["rss_mb"], "peak RSS": f["peak_rss_mb"]} for label, f in figures.items()},
        goal=MEMORY_GOAL_MB,
    )
    figure.suptitle(
        f"Kanal start-up and memory, empty store vs {result['messages']:,} messages queued "
        f"({MACHINE})",
        fontsize=10,
    )
    save(figure, path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--settle", type=float, default=10.0)
    args = parser.parse_args()
    outcome = asyncio.run(main(args.messages, args.settle))
    write({**header("capacity"), **outcome}, chart)
