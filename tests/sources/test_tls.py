"""TLS on every listener: MLLP source, MLLP destination and the HTTP API."""

from __future__ import annotations

import ssl

import httpx
import pytest
from conftest import delivery_count, eventually, free_port, hl7

from engine.receipts.hl7_ack import parse_ack
from engine.simulators.mllp_client import MllpClient


async def test_tls_source_destination_and_api(start_engine, certificate, tmp_path):
    cert, key = certificate
    secure_port = free_port()
    tls = f'{{ cert = "{cert}", key = "{key}" }}'
    engine = await start_engine(
        {
            # A plain listener forwards over TLS to the TLS listener of a second channel.
            "front": f"""
            [channel]
            name = "front"
            [source]
            type = "mllp"
            port = 0
            [[destination]]
            name = "secure"
            type = "mllp"
            port = {secure_port}
            tls = {{ ca = "{cert}" }}
        """,
            "back": f"""
            [channel]
            name = "back"
            [source]
            type = "mllp"
            port = {secure_port}
            tls = {tls}
            [[destination]]
            name = "archive"
            type = "directory"
            path = "{tmp_path / "archive"}"
        """,
        },
        f'[api]\nlisten = "127.0.0.1:0"\ntls = {tls}\n',
    )
    client_tls = ssl.create_default_context(cafile=cert)

    async with MllpClient("127.0.0.1", secure_port, tls=client_tls) as client:
        code, control_id, _ = parse_ack(await client.exchange(hl7("TLS-1")))
    assert (code, control_id) == ("AA", "TLS-1")

    async with MllpClient("127.0.0.1", engine.listeners["front"].port) as client:
        assert parse_ack(await client.exchange(hl7("TLS-2")))[0] == "AA"
    await eventually(lambda: delivery_count(engine, "SENT", "secure") == 1)
    await eventually(lambda: len(list((tmp_path / "archive").glob("*"))) == 2)

    async with httpx.AsyncClient(verify=client_tls) as http:
        health = await http.get(f"https://127.0.0.1:{engine.api_port}/healthz")
    assert health.json()["status"] == "ok"
    with pytest.raises(ssl.SSLError):  # a client that does not trust the certificate
        async with MllpClient("127.0.0.1", secure_port, tls=ssl.create_default_context()):
            pass
