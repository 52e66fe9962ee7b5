"""The API records when a token was last used: `kanal token list` can tell an idle one."""

from __future__ import annotations

import time

from conftest import api_client

from engine.store.tokens import list_tokens


async def test_a_request_records_its_tokens_last_use(start_engine):
    engine = await start_engine({})
    started = time.time()
    async with api_client(engine, "auditor") as client:
        for _ in range(3):  # one record, not one per request
            assert (await client.get("/api/v1/channels")).status_code == 200
    with engine.database.connect() as conn:
        [token] = list_tokens(conn)
    assert token["last_used_at"] is not None
    assert started <= token["last_used_at"] <= time.time()
