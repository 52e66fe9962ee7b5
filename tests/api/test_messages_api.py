"""Reading messages over HTTP: who may, what is masked, and that every read is audited."""

from __future__ import annotations

import httpx
import pytest
from conftest import api_client, delivery_count, eventually, hl7, to_directory
from sqlalchemy import select

from engine.store.schema import audit_events

CPR = "0101451234"
OTHER_CPR = "0202562345"


@pytest.fixture
async def engine(start_engine, tmp_path):
    channel = '[channel]\nname = "adt"\n[source]\ntype = "http"\n' + to_directory(
        "archive", tmp_path / "out"
    )
    engine = await start_engine({"adt": channel})
    async with api_client(engine, "source") as source:
        for n, cpr in enumerate((CPR, OTHER_CPR, CPR)):
            reply = await source.post("/api/v1/channels/adt/messages", content=hl7(f"R{n}", cpr))
            assert reply.status_code == 202, reply.text
    await eventually(lambda: delivery_count(engine, "SENT") == 3)
    return engine


def events(engine, action: str) -> list:
    with engine.database.connect() as conn:
        query = select(audit_events).where(audit_events.c.action == action)
        return list(conn.execute(query.order_by(audit_events.c.id)))


async def test_only_integrators_and_auditors_read(engine):
    paths = ["/api/v1/messages", "/api/v1/messages/1"]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.api_port}") as anonymous:
        for path in paths:
            assert (await anonymous.get(path)).status_code == 401, path
    async with api_client(engine, "source") as source:
        for path in paths:
            assert (await source.get(path)).status_code == 403, path
    for role in ("integrator", "auditor"):
        async with api_client(engine, role) as reader:
            for path in paths:
                assert (await reader.get(path)).status_code == 200, (role, path)


async def test_search_masks_cpr_pages_by_id_and_is_audited(engine):
    async with api_client(engine, "auditor") as auditor:
        everything = (await auditor.get("/api/v1/messages")).json()
        assert [m["id"] for m in everything["items"]] == [3, 2, 1]  # newest first
        assert everything["next"] is None
        assert {m["cpr"] for m in everything["items"]} == {"010145-****", "020256-****"}

        first = (await auditor.get("/api/v1/messages", params={"cpr": "010145-1234"})).json()
        assert [m["id"] for m in first["items"]] == [3, 1]
        one = (await auditor.get("/api/v1/messages", params={"cpr": CPR, "limit": 1})).json()
        assert [m["id"] for m in one["items"]] == [3] and one["next"] == "3"
        more = {"cpr": CPR, "limit": 1, "cursor": one["next"]}
        two = (await auditor.get("/api/v1/messages", params=more)).json()
        assert [m["id"] for m in two["items"]] == [1] and two["next"] is None

        recent = {"since": "1h", "status": "sent", "type": "ADT^A01", "channel": "adt"}
        assert len((await auditor.get("/api/v1/messages", params=recent)).json()["items"]) == 3
        assert (await auditor.get("/api/v1/messages", params={"status": "LOST"})).status_code == 422
        assert (await auditor.get("/api/v1/messages", params={"since": "soon"})).status_code == 422

    searches = events(engine, "SEARCH")
    assert len(searches) == 5  # the refused ones are not searches
    assert {e.actor for e in searches} == {searches[0].actor}
    assert searches[0].actor.startswith("token:test-")
    assert f'"cpr": "{CPR}"' in searches[1].detail  # who looked for which patient


async def test_detail_is_masked_and_audited_and_reveals_only_with_a_reason(engine):
    async with api_client(engine, "integrator") as integrator:
        shown = (await integrator.get("/api/v1/messages/1")).json()
        assert shown["cpr"] == "010145-****" and shown["control_id"] == "R0"
        assert "contents" not in shown
        assert [s["stage"] for s in shown["stages"]] == ["raw"]
        [delivery] = shown["deliveries"]
        assert delivery["status"] == "SENT" and delivery["attempt_log"][0]["outcome"] == "ok"
        assert [e["action"] for e in shown["audit"]] == ["RECEIVED", "ROUTED", "SENT"]
        assert CPR not in (await integrator.get("/api/v1/messages/1")).text

        for params in ({"reveal": "true"}, {"reveal": "true", "reason": "  "}):
            refused = await integrator.get("/api/v1/messages/1", params=params)
            assert refused.status_code == 422 and "reason" in refused.text
        assert events(engine, "REVEAL") == []

        why = {"reveal": "true", "reason": "ticket 4711: the EPJ says it never came"}
        revealed = (await integrator.get("/api/v1/messages/1", params=why)).json()
        assert revealed["cpr"] == CPR
        assert revealed["contents"][0]["stage"] == "raw"
        assert revealed["contents"][0]["data"].startswith("MSH|")
        assert (await integrator.get("/api/v1/messages/99")).status_code == 404

    reads = events(engine, "READ")
    assert [e.message_id for e in reads] == [1, 1, 1]  # the refused reveals read nothing
    [reveal] = events(engine, "REVEAL")
    assert reveal.message_id == 1 and reveal.actor == reads[0].actor
    assert reveal.reason == why["reason"]
