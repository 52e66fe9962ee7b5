"""Every role boundary of the API: no token 401, the wrong role 403, a source token only
on its channel, a revoked token refused."""

from __future__ import annotations

import httpx
import pytest
from conftest import (
    api_client,
    api_token,
    delivery_count,
    eventually,
    free_port,
    hl7,
    to_mllp,
)

from engine.store.tokens import revoke_token

CHANNELS = {
    name: f'[channel]\nname = "{name}"\n[source]\ntype = "http"\n' for name in ("adt", "lab")
}
POST_ADT = ("POST", "/api/v1/channels/adt/messages")
OPERATIONS = [
    ("POST", "/api/v1/messages/1/resend"),
    ("POST", "/api/v1/messages/1/cancel"),
    ("POST", "/api/v1/deliveries/resend"),
]
READS = [("GET", "/api/v1/channels")]


@pytest.fixture
async def engine(start_engine):
    return await start_engine(CHANNELS)


async def call(client: httpx.AsyncClient, method: str, path: str) -> int:
    if path.endswith("/messages"):
        response = await client.request(method, path, content=hl7("ROLE-1"))
    elif path.endswith("/deliveries/resend"):
        response = await client.request(method, path, json={"status": "DEAD"})
    else:
        response = await client.request(method, path)
    return response.status_code


async def test_without_a_token_everything_but_health_and_docs_is_401(engine):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.api_port}") as anonymous:
        for method, path in [POST_ADT, *OPERATIONS, *READS]:
            response = await anonymous.request(method, path)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"
        assert (await anonymous.get("/healthz")).status_code == 200
        assert (await anonymous.get("/openapi.json")).status_code == 200
        made_up = {"Authorization": "Bearer kanal_not-a-real-token"}
        assert (await anonymous.get("/api/v1/channels", headers=made_up)).status_code == 401


@pytest.mark.parametrize(
    ("role", "may_post", "may_operate"),
    [("source", True, False), ("integrator", True, True), ("auditor", False, False)],
)
async def test_each_role_may_do_only_its_part(engine, role, may_post, may_operate):
    async with api_client(engine, role) as client:
        assert await call(client, *POST_ADT) == (202 if may_post else 403)
        for method, path in OPERATIONS:
            status = await call(client, method, path)
            assert (status != 403) == may_operate, (role, path, status)
        for method, path in READS:
            assert await call(client, method, path) == 200


async def test_a_source_token_posts_only_to_its_channel(engine):
    async with api_client(engine, "source", channel="lab") as client:
        assert (
            await client.post("/api/v1/channels/lab/messages", content=hl7("L1"))
        ).status_code == 202
        refused = await client.post("/api/v1/channels/adt/messages", content=hl7("A1"))
        assert refused.status_code == 403
        assert "only to channel 'lab'" in refused.json()["detail"]


async def test_a_revoked_token_is_refused(engine):
    token = api_token(engine, "integrator")
    with engine.database.begin() as conn:
        [name] = [
            row.name
            for row in conn.exec_driver_sql("SELECT name FROM api_tokens ORDER BY id DESC LIMIT 1")
        ]
        assert revoke_token(conn, name) == 1
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.api_port}") as client:
        assert (await client.get("/api/v1/channels", headers=headers)).status_code == 401


async def test_operations_are_attributed_to_the_tokens_holder(start_engine):
    unreachable = to_mllp(
        "epj", free_port(), retry='{ initial = "5s" }'
    )  # nobody listens: the delivery stays queued
    engine = await start_engine(
        {"adt": f'[channel]\nname = "adt"\n[source]\ntype = "http"\n{unreachable}'}
    )
    async with api_client(engine, "integrator") as client:
        assert (await client.post("/api/v1/channels/adt/messages", content=hl7("W1"))).is_success
        await eventually(lambda: delivery_count(engine, "RETRYING") == 1)
        cancel = await client.post("/api/v1/messages/1/cancel", params={"reason": "by phone"})
        assert cancel.json() == {"cancelled": 1}
    with engine.database.connect() as conn:
        [holder] = conn.exec_driver_sql("SELECT name FROM api_tokens").scalars()
        actors = conn.exec_driver_sql(
            "SELECT actor FROM audit_events WHERE action = 'CANCELLED'"
        ).scalars()
        assert list(actors) == [f"token:{holder}"]


async def test_auditors_verify_the_audit_chain_and_it_names_a_tampered_event(engine):
    async with api_client(engine, "integrator") as poster:
        assert (await poster.post("/api/v1/channels/adt/messages", content=hl7("V1"))).is_success
    async with api_client(engine, "auditor") as auditor:
        intact = (await auditor.get("/api/v1/audit/verify")).json()
        assert intact["ok"] is True and intact["checked"] >= 2
        with engine.database.begin() as conn:
            conn.exec_driver_sql("UPDATE audit_events SET detail = 'edited' WHERE id = 1")
        broken = (await auditor.get("/api/v1/audit/verify")).json()
    assert broken["ok"] is False and broken["event_id"] == 1
    assert "changed" in broken["problem"]
    async with api_client(engine, "source") as source:
        assert (await source.get("/api/v1/audit/verify")).status_code == 403


async def test_a_receiver_process_lists_channels_and_shows_the_dashboard(start_engine):
    """Role receiver runs no workers: destination health is unknown there, not an error."""
    engine = await start_engine(
        {"adt": CHANNELS["adt"] + to_mllp("epj", free_port())}, role="receiver"
    )
    async with api_client(engine, "auditor") as client:
        listed = await client.get("/api/v1/channels")
        assert listed.status_code == 200, listed.text
        assert listed.json()[0]["destinations"] == [
            {"name": "epj", "type": "mllp", "healthy": None}
        ]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.api_port}") as browser:
        login = await browser.post("/console/login", data={"token": api_token(engine, "auditor")})
        assert login.status_code == 303
        assert (await browser.get("/console/")).status_code == 200
