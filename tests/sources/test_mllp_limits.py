"""MLLP input that is too large or not MLLP at all: refused clearly, the listener goes on."""

from __future__ import annotations

import asyncio

from conftest import hl7, message_rows, mllp_in, to_directory

from engine.receipts.hl7_ack import parse_ack
from engine.simulators.mllp_client import MllpClient, send_all

LIMITED = mllp_in("adt", to_directory("out", "out"), extra="max_message_bytes = 2048")


async def test_oversized_frame_is_refused_with_ar_and_nothing_stored(start_engine):
    engine = await start_engine(LIMITED)
    port = engine.listeners["adt"].port
    big = hl7("BIG-1").replace(b"PV1|", b"NTE|1||" + b"x" * 4096 + b"\rPV1|")

    async with MllpClient("127.0.0.1", port, timeout=10) as client:
        code, _, text = parse_ack(await client.exchange(big))
    assert code == "AR"
    assert "larger than 2048 bytes" in text
    assert message_rows(engine) == []
    [ack] = await send_all("127.0.0.1", port, [hl7("SMALL-1")])  # a new connection works
    assert parse_ack(ack)[:2] == ("AA", "SMALL-1")


async def test_bytes_without_mllp_framing_close_the_connection(start_engine):
    engine = await start_engine(LIMITED)
    port = engine.listeners["adt"].port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: kanal\r\n\r\n\x1c\r")
    await writer.drain()
    async with asyncio.timeout(10):
        assert await reader.read() == b""  # closed without an answer: it is not MLLP
    writer.close()
    [ack] = await send_all("127.0.0.1", port, [hl7("AFTER-1")])
    assert parse_ack(ack)[0] == "AA"
    assert [row.control_id for row in message_rows(engine)] == ["AFTER-1"]
