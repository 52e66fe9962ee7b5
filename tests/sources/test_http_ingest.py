"""HTTP ingest: 202 with the id after the commit; broken input stored as ERROR with a reason."""

from __future__ import annotations

import httpx
from conftest import FIXTURES, api_client, message_rows

CHANNELS = {
    "adt": """
    [channel]
    name = "adt"
    [source]
    type = "http"
    max_message_bytes = 2048
    [[destination]]
    name = "archive"
    type = "directory"
    path = "out"
"""
}


async def post(engine, channel: str, body: bytes) -> httpx.Response:
    url = f"http://127.0.0.1:{engine.api_port}/api/v1/channels/{channel}/messages"
    async with api_client(engine) as client:
        return await client.post(url, content=body)


async def test_post_returns_the_committed_id(start_engine):
    engine = await start_engine(CHANNELS)
    response = await post(engine, "adt", (FIXTURES / "hl7v2" / "adt_a01_admit.hl7").read_bytes())

    assert response.status_code == 202
    [item] = response.json()["messages"]
    [row] = message_rows(engine)
    assert item["id"] == row.id
    assert (item["type"], row.type) == ("ADT^A01", "ADT^A01")
    assert row.origin.startswith("http:")


async def test_garbage_is_stored_as_error_and_answered_422(start_engine):
    engine = await start_engine(CHANNELS)
    response = await post(engine, "adt", b"this is not a message")

    assert response.status_code == 422
    [item] = response.json()["messages"]
    assert item["status"] == "ERROR"
    assert "unrecognised format" in item["error"]
    [row] = message_rows(engine)
    assert (row.id, row.status) == (item["id"], "ERROR")


async def test_unknown_channel_is_404_and_oversized_is_413(start_engine):
    engine = await start_engine(CHANNELS)
    assert (await post(engine, "nope", b"MSH|")).status_code == 404
    too_big = await post(engine, "adt", b"MSH|" + b"x" * 4096)
    assert too_big.status_code == 413
    assert message_rows(engine) == []


async def test_health_and_channels(start_engine):
    engine = await start_engine(CHANNELS)
    async with api_client(engine) as client:
        health = (await client.get("/healthz")).json()
        channels = (await client.get("/api/v1/channels")).json()
    assert health["status"] == "ok"
    assert channels[0]["name"] == "adt"
    assert channels[0]["destinations"][0]["name"] == "archive"


async def test_openapi_documents_the_raw_body(start_engine):
    engine = await start_engine(CHANNELS)
    async with api_client(engine) as client:
        spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/channels/{name}/messages"]["post"]
    assert "x-application/hl7-v2+er7" in operation["requestBody"]["content"]
    assert {"202", "413", "422", "503"} <= set(operation["responses"])
