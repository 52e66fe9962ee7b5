"""EDIFACT directory → OIOXML: MedCom EDIFACT letters dropped in a VANS inbox (a directory
source), converted by the medcom-edifact-to-oioxml mapping and written to a folder as OIOXML
(a directory destination), beside the same work without the engine, in the same run:

- read + split: read each file and split it into segments (the floor for touching it);
- conversion alone: read each file, then the engine's EDIFACT parse and the mapping (output
  validated against MedCom's XSDs) in this process: what the engine must do per letter;
- kanal: `kanal run` with that channel; files/s from the first file appearing in the inbox to
  the last OIOXML file appearing in the destination (every input in done/, none in error/).

The gap between "conversion alone" and kanal is what the directory source, the store and the
delivery cost; CPU ms per file (this process, the engine's) is the steadier figure on a shared
machine. Inputs are the EDIFACT letters of MedCom's reference pairs
(../shared/medcom/pairs; the CTL receipts left out: they settle deliveries, they are not
letters), cycled to N files, each with its own interchange reference: the engine takes a
letter whose envelope id it has seen as a duplicate and does not deliver it again.

    python bench/edifact_directory.py [--files 2000]

Prints a table and writes bench/results/edifact_directory.json and .png.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from charts import MACHINE, bars
from kanal_process import cpu_seconds, engine_folder, memory_mb, start_engine, stop_engine
from lxml import etree
from medcom_throughput import MEDCOM, REPO, SCHEMAS, bare_split
from results_file import header, write

from engine.formats.sniff import parse_messages
from engine.mapping.loader import load_mapping
from engine.mapping.testing import convert

MAPPING = "medcom-edifact-to-oioxml"
STALL_SECONDS = 30  # no file moved or delivered for this long: the engine is stuck
Work = Callable[[bytes], Any]


def with_reference(raw: bytes, reference: str) -> bytes:
    """The interchange with its control reference (UNB element 5, repeated in UNZ) replaced;
    MedCom's separators (+ and '). rindex: BIN01's raw binary may hold anything, UNZ is last."""
    unb_at = raw.index(b"UNB+")
    unb_end = raw.index(b"'", unb_at)
    unz_at = raw.rindex(b"UNZ+")
    unz_end = raw.index(b"'", unz_at)
    unb, unz = raw[unb_at:unb_end].split(b"+"), raw[unz_at:unz_end].split(b"+")
    unb[5] = unz[2] = reference.encode()
    return raw[:unb_at] + b"+".join(unb) + raw[unb_end:unz_at] + b"+".join(unz) + raw[unz_end:]


def letters() -> list[tuple[str, bytes]]:
    """(name, raw) of every example letter; each checked to keep a rewritten reference."""
    found = []
    for path in sorted((MEDCOM / "pairs").glob("*.edi")):
        if path.name.startswith("CTL"):
            continue
        parsed = parse_messages(with_reference(path.read_bytes(), "KB00000000"))[0]
        if parsed.error is not None or parsed.meta.envelope_id != "KB00000000":
            raise SystemExit(f"{path.name}: the interchange reference cannot be rewritten")
        found.append((path.stem, path.read_bytes()))
    return found


def inputs(count: int, examples: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """`count` files cycling through the example letters, each its own interchange."""
    cycle = itertools.cycle(examples)
    return [
        (f"{n:06d}-{stem}.edi", with_reference(raw, f"KB{n:08d}"))
        for n, (stem, raw) in zip(range(count), cycle, strict=False)
    ]


def timed(work: Work, paths: list[Path]) -> tuple[dict[str, float], list[Any]]:
    """One pass reading and working each file: its figures and the work's results. CPU time
    beside wall time: the machine is shared, CPU per file is the steadier figure."""
    started, cpu = time.perf_counter(), time.process_time()
    results = [work(path.read_bytes()) for path in paths]
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    figures = {
        "seconds": round(elapsed, 3),
        "per_second": round(len(paths) / elapsed, 1),
        "cpu_ms_per_file": round(cpu * 1000 / len(paths), 3),
    }
    return figures, results


def baselines(
    named: list[tuple[str, bytes]], folder: Path
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Both baselines on the same files, and each file's OIOXML (what kanal must deliver)."""
    folder.mkdir()
    for name, raw in named:
        (folder / name).write_bytes(raw)
    paths = [folder / name for name, _ in named]
    mapping = load_mapping(REPO / "mappings", MAPPING, SCHEMAS)
    split, _ = timed(bare_split, paths)
    conversion, outputs = timed(lambda raw: convert(mapping, raw), paths)
    expected = {name: output for (name, _), output in zip(named, outputs, strict=True)}
    return {"read_and_split": split, "conversion_alone": conversion}, expected


def edifact_channel(folder: Path, inbox: Path, outbox: Path, receipts: Path) -> Path:
    """engine.toml (no API: nothing listens) and channels/edifact.toml; engine.toml's path."""
    channel = f"""
        [channel]
        name = "edifact"
        [source]
        type = "directory"
        path = {json.dumps(str(inbox))}
        pattern = "*.edi"
        poll = "100ms"  # the shipped vans-inbox polls every 500ms: less waiting at the start
        receipts = {json.dumps(str(receipts))}
        [[destination]]
        name = "oioxml"
        type = "directory"
        path = {json.dumps(str(outbox))}
        mapping = "{MAPPING}"
        filename = "{{{{ msg.id }}}}.xml"
        """  # msg.id, not msg.control_id: the cycled copies keep their letters' ids
    engine = f"""
        [engine]
        mappings_dir = {json.dumps(str(REPO / "mappings"))}
        [api]
        enabled = false
        [standards.medcom]
        schema_dir = {json.dumps(str(SCHEMAS))}
        """
    return engine_folder(folder, "edifact", channel, engine)


async def wait_polling(inbox: Path, process: asyncio.subprocess.Process) -> None:
    """The directory source makes done/ when it starts polling."""
    async with asyncio.timeout(60):
        while not (inbox / "done").is_dir():
            if process.returncode is not None:
                raise RuntimeError("the engine exited during start-up")
            await asyncio.sleep(0.02)


def drop(inbox: Path, named: list[tuple[str, bytes]]) -> float:
    """Write each file under a name the source skips, then rename it, as a VANS client does;
    returns when the first one appeared."""
    first = 0.0
    for name, raw in named:
        partial = inbox / f"{name}.part"
        partial.write_bytes(raw)
        os.replace(partial, inbox / name)
        first = first or time.perf_counter()
    return first


def files(folder: Path, suffix: str) -> list[str]:
    """Visible files ending in `suffix` (not the destination's .tmp, not error/'s reasons)."""
    with contextlib.suppress(FileNotFoundError), os.scandir(folder) as entries:
        return [e.name for e in entries if e.name.endswith(suffix) and not e.name.startswith(".")]
    return []


def census(inbox: Path, outbox: Path) -> dict[str, int]:
    return {
        "done": len(files(inbox / "done", ".edi")),
        "error": len(files(inbox / "error", ".edi")),
        "outputs": len(files(outbox, ".xml")),
        "left_in_inbox": len(files(inbox, ".edi")),
    }


async def watch(
    inbox: Path, outbox: Path, count: int, process: asyncio.subprocess.Process
) -> dict[str, Any]:
    """Poll the folders until every file is taken and delivered, or the engine stalls or
    exits; the counts, and when the last input was taken and the last output appeared."""
    taken = delivered = 0
    taken_at = delivered_at = changed = time.perf_counter()
    while process.returncode is None and time.perf_counter() - changed < STALL_SECONDS:
        counts = census(inbox, outbox)
        now = time.perf_counter()
        if counts["done"] + counts["error"] > taken:
            taken, taken_at, changed = counts["done"] + counts["error"], now, now
        if counts["outputs"] > delivered:
            delivered, delivered_at, changed = counts["outputs"], now, now
        if taken == count and delivered >= counts["done"]:
            break
        await asyncio.sleep(0.05)
    counts = census(inbox, outbox)
    stalled = counts["done"] + counts["error"] < count or counts["outputs"] < counts["done"]
    return {**counts, "taken_at": taken_at, "delivered_at": delivered_at, "stalled": stalled}


def origins(database: Path) -> dict[int, str]:
    """Message id → the file it came from (read-only: the store is the engine's)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT id, origin FROM messages").fetchall()
    return {mid: origin.removeprefix("file:") for mid, origin in rows}


def statuses(database: Path) -> dict[str, dict[str, int]]:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return {
            table: dict(conn.execute(f"SELECT status, count(*) FROM {table} GROUP BY status"))
            for table in ("messages", "deliveries")
        }


def check_outputs(outbox: Path, database: Path, expected: dict[str, bytes]) -> dict[str, int]:
    """Outputs that are well-formed XML, and that are byte for byte what the conversion
    alone made of the same input file (found through the store's message id)."""
    came_from = origins(database)
    well_formed = identical = 0
    for name in files(outbox, ".xml"):
        output = (outbox / name).read_bytes()
        with contextlib.suppress(etree.XMLSyntaxError):
            etree.fromstring(output, etree.XMLParser(resolve_entities=False, no_network=True))
            well_formed += 1
        source = came_from.get(int(name.removesuffix(".xml")), "")
        identical += expected.get(source) == output
    return {"well_formed": well_formed, "identical_to_conversion": identical}


def error_reasons(inbox: Path, limit: int = 3) -> list[str]:
    """Why files went to error/: the source writes the reason beside each."""
    reasons = sorted(files(inbox / "error", ".error.txt"))[:limit]
    return [f"{name}: {(inbox / 'error' / name).read_text().strip()}" for name in reasons]


async def kanal(
    named: list[tuple[str, bytes]], folder: Path, expected: dict[str, bytes]
) -> dict[str, Any]:
    inbox, outbox, receipts = folder / "vans" / "in", folder / "out", folder / "vans" / "receipts"
    config = edifact_channel(folder, inbox, outbox, receipts)
    engine = await start_engine(config, log_level="warning")
    try:
        await wait_polling(inbox, engine)
        cpu = cpu_seconds(engine.pid)
        first = await asyncio.to_thread(drop, inbox, named)
        seen = await watch(inbox, outbox, len(named), engine)
        cpu, rss = cpu_seconds(engine.pid) - cpu, memory_mb(engine.pid)
    finally:
        await stop_engine(engine)
    database = folder / "var" / "kanal.db"
    end_to_end, ingest = seen["delivered_at"] - first, seen["taken_at"] - first
    return {
        "files": len(named),
        "seconds": round(end_to_end, 3),
        "per_second": round(seen["outputs"] / end_to_end, 1),
        "cpu_ms_per_file": round(cpu * 1000 / len(named), 3),
        "ingest_seconds": round(ingest, 3),
        "ingest_per_second": round((seen["done"] + seen["error"]) / ingest, 1),
        **{key: seen[key] for key in ("outputs", "done", "error", "left_in_inbox", "stalled")},
        **check_outputs(outbox, database, expected),
        "receipts_written": len(files(receipts, "")),
        "store": statuses(database),
        "error_reasons": error_reasons(inbox),
        "engine_peak_rss_mb": rss,
        "engine_exit_code": engine.returncode,
    }


def chart(result: dict[str, Any], path: Path) -> None:
    base, engine = result["baselines"], result["kanal"]
    rates = {
        "read + split": base["read_and_split"]["per_second"],
        "conversion alone": base["conversion_alone"]["per_second"],
        "kanal: taken (to done/)": engine["ingest_per_second"],
        "kanal: end to end": engine["per_second"],
    }
    title = (
        f"{engine['files']} MedCom EDIFACT files → OIOXML, directory to directory\n"
        f"Kanal beside the same work without it (Python {result['machine']['python']}, {MACHINE})"
    )
    bars(path, title, "files / s (log)", {"files / s": rates}, log=True)


def table(result: dict[str, Any]) -> None:
    base, engine = result["baselines"], result["kanal"]
    rows = [
        ("read + segment split", base["read_and_split"]),
        ("conversion alone (in-process)", base["conversion_alone"]),
        ("kanal: taken (inbox → done/)", {
            "per_second": engine["ingest_per_second"], "seconds": engine["ingest_seconds"]}),
        ("kanal: end to end (→ OIOXML)", engine),
    ]  # fmt: skip
    print(f"{'':34}{'files/s':>10}{'seconds':>10}{'CPU ms/file':>13}")
    for label, figures in rows:
        cpu = figures.get("cpu_ms_per_file", "")
        print(f"{label:34}{figures['per_second']:>10}{figures['seconds']:>10}{cpu:>13}")
    print(
        f"kanal/conversion {result['ratios']['kanal_vs_conversion']}, "
        f"kanal/split {result['ratios']['kanal_vs_split']}, "
        f"CPU per file kanal/conversion {result['ratios']['cpu_kanal_vs_conversion']}x; "
        f"outputs {engine['outputs']}/{engine['files']} "
        f"(well-formed {engine['well_formed']}, identical {engine['identical_to_conversion']}), "
        f"done/ {engine['done']}, error/ {engine['error']}, left {engine['left_in_inbox']}, "
        f"receipts {engine['receipts_written']}, engine peak RSS {engine['engine_peak_rss_mb']} MB"
    )
    print(f"store: {engine['store']}")
    for reason in engine["error_reasons"]:
        print(f"error/: {reason}")
    if engine["stalled"]:
        print(f"STALLED: nothing moved for {STALL_SECONDS} s before every file was delivered")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    examples = letters()
    named = inputs(args.files, examples)
    with tempfile.TemporaryDirectory(prefix="kanal-bench-") as folder:
        base, expected = baselines(named, Path(folder) / "baseline")
        engine = await kanal(named, Path(folder) / "kanal", expected)
    result = {
        **header("edifact_directory"),
        "letters": len(examples),
        "baselines": base,
        "kanal": engine,
        "ratios": {
            "kanal_vs_conversion": round(
                engine["per_second"] / base["conversion_alone"]["per_second"], 3
            ),
            "kanal_vs_split": round(engine["per_second"] / base["read_and_split"]["per_second"], 4),
            "cpu_kanal_vs_conversion": round(
                engine["cpu_ms_per_file"] / base["conversion_alone"]["cpu_ms_per_file"], 2
            ),
            "ingest_vs_conversion": round(
                engine["ingest_per_second"] / base["conversion_alone"]["per_second"], 3
            ),
        },
    }
    write(result, chart)
    table(result)


if __name__ == "__main__":
    asyncio.run(main())
