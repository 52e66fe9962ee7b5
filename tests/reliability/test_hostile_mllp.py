"""Hostile MLLP clients against a `kanal run` process: slow-loris senders, a 50 MB
frame, a flood of connections. The listener keeps answering a normal client within a
second, hangs up on idle and slow clients after its timeout, refuses what is too large
without storing it, gives back every file descriptor, and its memory stays bounded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import time
from pathlib import Path

import pytest
from conftest import (
    eventually,
    free_port,
    hl7,
    mllp_in,
    start_engine_process,
    stop_process,
    to_mllp,
    write_config,
)

from engine.receipts.hl7_ack import parse_ack
from engine.simulators.mllp_client import MllpClient

pytestmark = pytest.mark.slow

IDLE_TIMEOUT = 3.0  # the source's `timeout`: idle and slow clients are cut off after it
LIMIT = 64 * 1024  # the source's max_message_bytes
MAX_CONNECTIONS = 200  # the source's max_connections (its default)
MAX_RSS_MB = 300


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def memory_mb(pid: int, field: str = "VmHWM") -> float:
    """VmRSS now, or VmHWM: the most resident memory the process ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


async def ack_times(port: int, prefix: str, count: int, pause: float = 0.05) -> list[float]:
    """A normal client: `count` messages on one connection; the seconds each AA took."""
    times = []
    async with MllpClient("127.0.0.1", port, timeout=10) as client:
        for i in range(count):
            started = time.monotonic()
            code, echoed, text = parse_ack(await client.exchange(hl7(f"{prefix}-{i:03d}")))
            times.append(time.monotonic() - started)
            assert (code, echoed) == ("AA", f"{prefix}-{i:03d}"), text
            await asyncio.sleep(pause)
    return times


async def closed_by_peer(reader: asyncio.StreamReader, since: float, within: float) -> float:
    """Seconds from `since` until the engine hangs up on this connection."""
    async with asyncio.timeout(within):
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass
    return time.monotonic() - since


@pytest.fixture
async def engine_process(tmp_path, epj):
    port = free_port()
    config = write_config(
        tmp_path,
        mllp_in(
            "adt",
            to_mllp("epj", epj.port),
            port=port,
            extra=f'timeout = "{IDLE_TIMEOUT}s"\nmax_message_bytes = {LIMIT}',
        ),
        '[api]\nenabled = false\n[queue]\npoll = "100ms"\n',
    )
    process = await start_engine_process(config, port)
    try:
        await ack_times(port, "WARMUP", 5, pause=0)
        await epj.wait_for(5)
        yield process, port
    finally:
        await stop_process(process)
    assert process.returncode == 0


async def test_slow_loris_clients_do_not_slow_others_and_are_cut_off(engine_process, epj):
    process, port = engine_process
    baseline = open_fds(process.pid)

    # One client sends a frame a byte every 100 ms, one connects and never sends.
    frame = b"\x0b" + hl7("LORIS-1") + b"\x1c\r"
    connected = time.monotonic()
    loris_reader, loris_writer = await asyncio.open_connection("127.0.0.1", port)
    mute_reader, mute_writer = await asyncio.open_connection("127.0.0.1", port)

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for byte in frame:
                loris_writer.write(bytes([byte]))
                await loris_writer.drain()
                await asyncio.sleep(0.1)

    trickling = asyncio.create_task(trickle())
    times = await ack_times(port, "NORMAL", 30)  # about two seconds, beside the slow ones
    loris_cut = await closed_by_peer(loris_reader, connected, IDLE_TIMEOUT + 5)
    mute_cut = await closed_by_peer(mute_reader, connected, IDLE_TIMEOUT + 5)
    trickling.cancel()
    for writer in (loris_writer, mute_writer):
        writer.close()
    print(
        f"\nslow-loris: normal client's ACK max {max(times) * 1000:.1f} ms, median "
        f"{sorted(times)[len(times) // 2] * 1000:.1f} ms; the trickling client (a "
        f"{len(frame) * 0.1:.0f} s frame) cut off after {loris_cut:.1f} s, the mute one after "
        f"{mute_cut:.1f} s (timeout {IDLE_TIMEOUT:g} s)"
    )
    assert max(times) < 1.0
    assert "LORIS-1" not in epj.received  # half a frame is never a message
    assert IDLE_TIMEOUT - 0.5 < loris_cut < IDLE_TIMEOUT + 1.5
    assert IDLE_TIMEOUT - 0.5 < mute_cut < IDLE_TIMEOUT + 1.5
    await eventually(lambda: open_fds(process.pid) <= baseline, timeout=5)


async def test_a_huge_frame_is_refused_ar_the_sender_reads_it_and_memory_stays_flat(
    engine_process, epj
):
    """50 MB in one frame against a 64 KB limit: the AR must survive the hang-up (closing
    with unread bytes would reset the connection and destroy it) and nothing is stored."""
    process, port = engine_process
    before = memory_mb(process.pid, "VmRSS")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\x0b" + hl7("HUGE-1"))
    chunk = b"NTE|1||" + b"x" * 65536 + b"\r"
    for _ in range(800):
        writer.write(chunk)
        await writer.drain()
    writer.write(b"\x1c\r")
    async with asyncio.timeout(10):
        answer = await reader.read()  # the AR, then the engine's end of the connection
    writer.close()
    assert b"MSA|AR" in answer and f"larger than {LIMIT} bytes".encode() in answer
    assert "HUGE-1" not in epj.received
    times = await ack_times(port, "AFTER", 3)
    assert max(times) < 1.0
    grown = memory_mb(process.pid, "VmRSS") - before
    print(f"\nhuge frame: AR read after sending 50 MB, RSS grew {grown:.1f} MB")
    assert memory_mb(process.pid) < MAX_RSS_MB


async def test_a_flood_of_connections_is_survived_and_leaves_no_descriptors(engine_process, epj):
    """500 connections at once, a quarter reset, a quarter with half a frame, a quarter
    with a whole frame and gone, a quarter silent. Over max_connections they are closed at
    once; a sender connected before keeps its ACKs; afterwards every descriptor is back."""
    process, port = engine_process
    baseline, rss_before = open_fds(process.pid), memory_mb(process.pid, "VmRSS")
    normal = MllpClient("127.0.0.1", port, timeout=10)
    await normal.__aenter__()  # a sender with its persistent connection, before the flood

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(10):
                return await asyncio.open_connection("127.0.0.1", port)
        return None

    started = time.monotonic()
    opened = [c for c in await asyncio.gather(*(connect() for _ in range(500))) if c]
    connected_in = time.monotonic() - started
    frame = b"\x0b" + hl7("FLOOD") + b"\x1c\r"
    for index, (_, writer) in enumerate(opened):
        kind = index % 4
        if kind == 0:  # abrupt: RST instead of FIN
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        elif kind == 1:  # half a frame, then nothing
            writer.write(frame[: len(frame) // 2])
        elif kind == 2:  # a whole frame, then gone without reading the ACK
            writer.write(frame.replace(b"FLOOD", f"FLOOD-{index:03d}".encode()))
        # kind 3: connected and silent
    await asyncio.sleep(0.5)
    peak = open_fds(process.pid)
    refused = sum(1 for i, (r, _) in enumerate(opened) if i % 4 and r.at_eof())  # by the engine
    times = []
    for i in range(20):
        begun = time.monotonic()
        code, _, _ = parse_ack(await normal.exchange(hl7(f"DURING-{i:03d}")))
        times.append(time.monotonic() - begun)
        assert code == "AA"
    await normal.__aexit__(None, None, None)
    for _, writer in opened:
        writer.close()
    await eventually(lambda: open_fds(process.pid) <= baseline, timeout=IDLE_TIMEOUT + 5)
    after = await ack_times(port, "AFTER", 5)
    print(
        f"\nflood: {len(opened)}/500 connected in {connected_in:.2f}s, {refused} closed at once "
        f"(max_connections {MAX_CONNECTIONS}); fds {baseline} -> {peak} -> "
        f"{open_fds(process.pid)}; ACK max {max(times) * 1000:.1f} ms during, "
        f"{max(after) * 1000:.1f} ms after; RSS {rss_before:.0f} -> "
        f"{memory_mb(process.pid, 'VmRSS'):.0f} MB (peak {memory_mb(process.pid):.0f} MB)"
    )
    assert len(opened) == 500
    assert peak <= baseline + MAX_CONNECTIONS + 5  # the limit holds descriptors down
    assert refused > 0
    assert max(times) < 1.0 and max(after) < 1.0
    assert memory_mb(process.pid) < MAX_RSS_MB
