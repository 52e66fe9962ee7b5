"""The web console over HTTP: login sets a safe cookie, pages render, CPR stays masked,
an auditor cannot resend, an integrator can, and the forms refuse cross-site posts."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import api_token, delivery_count, eventually, hl7, to_directory
from sqlalchemy import select

from engine.store.schema import audit_events

CPR = "0101451234"


@pytest.fixture
async def engine(start_engine, tmp_path):
    channel = '[channel]\nname = "adt"\n[source]\ntype = "http"\n' + to_directory(
        "archive", tmp_path / "out"
    )
    engine = await start_engine({"adt": channel})
    async with console(engine) as client:
        headers = {"Authorization": f"Bearer {api_token(engine, 'source')}"}
        reply = await client.post(
            "/api/v1/channels/adt/messages", content=hl7("C1", CPR), headers=headers
        )
        assert reply.status_code == 202, reply.text
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    return engine


def console(engine) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.api_port}")


@contextlib.asynccontextmanager
async def signed_in(engine, role: str) -> AsyncIterator[httpx.AsyncClient]:
    async with console(engine) as client:
        reply = await client.post("/console/login", data={"token": api_token(engine, role)})
        assert reply.status_code == 303 and reply.headers["location"] == "/console/"
        yield client


def csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, "no CSRF token in the page"
    return found.group(1)


def actions(engine) -> list[str]:
    with engine.database.connect() as conn:
        return list(
            conn.execute(select(audit_events.c.action).order_by(audit_events.c.id)).scalars()
        )


async def test_login_sets_a_strict_http_only_cookie_and_pages_need_it(engine):
    async with console(engine) as anonymous:
        away = await anonymous.get("/console/messages?cpr=1")
        assert away.status_code == 303
        assert away.headers["location"] == "/console/login?next=%2Fconsole%2Fmessages%3Fcpr%3D1"
        assert (await anonymous.get("/console/login")).status_code == 200
        bad = await anonymous.post("/console/login", data={"token": "kanal_made-up"})
        assert bad.status_code == 401 and "Unknown or revoked" in bad.text
        source = await anonymous.post("/console/login", data={"token": api_token(engine, "source")})
        assert source.status_code == 403 and "kanal_token" not in source.headers.get(
            "set-cookie", ""
        )
        foreign = await anonymous.post(
            "/console/login",
            data={"token": api_token(engine, "auditor")},
            headers={"Origin": "http://evil.example"},
        )
        assert foreign.status_code == 403

        token = api_token(engine, "auditor")
        ok = await anonymous.post(
            "/console/login", data={"token": token, "next": "//evil.example/"}
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/console/"  # never offsite
        cookie = ok.headers["set-cookie"].lower()
        for part in ("kanal_token=", "httponly", "samesite=strict", "path=/console"):
            assert part in cookie, cookie
        assert (await anonymous.get("/console/")).status_code == 200
        assert "LOGIN" in actions(engine)

        page = await anonymous.get("/console/")
        out = await anonymous.post("/console/logout", data={"csrf": csrf(page)})
        assert out.status_code == 303 and 'kanal_token=""' in out.headers["set-cookie"]
        assert (await anonymous.get("/console/")).status_code == 303


async def test_an_auditor_reads_masked_pages_reveals_with_a_reason_and_cannot_resend(engine):
    async with signed_in(engine, "auditor") as client:
        dashboard = await client.get("/console/")
        assert dashboard.status_code == 200
        assert (
            "adt" in dashboard.text
            and "<svg" in dashboard.text
            and 'href="#main"' in dashboard.text
        )

        listed = await client.get("/console/messages", params={"cpr": CPR})
        assert listed.status_code == 200
        assert '<td class="cpr">010145-****</td>' in listed.text
        assert listed.text.count(CPR) == 1  # only in the search field, as typed
        assert 'href="/console/messages/1"' in listed.text
        bad = await client.get("/console/messages", params={"status": "LOST"})
        assert bad.status_code == 422 and "status" in bad.text

        page = await client.get("/console/messages/1")
        assert page.status_code == 200 and CPR not in page.text and "MSH|" not in page.text
        assert "Reveal content" in page.text
        assert "/resend" not in page.text and "/cancel" not in page.text  # no buttons
        token = csrf(page)
        refused = await client.post("/console/messages/1/resend", data={"csrf": token})
        assert refused.status_code == 403
        assert "RESEND" not in actions(engine)

        blank = await client.post("/console/messages/1/reveal", data={"csrf": token, "reason": " "})
        assert blank.status_code == 422 and "MSH|" not in blank.text
        forged = await client.post("/console/messages/1/reveal", data={"reason": "x"})
        assert forged.status_code == 403
        shown = await client.post(
            "/console/messages/1/reveal", data={"csrf": token, "reason": "ticket 9"}
        )
        assert shown.status_code == 200 and "MSH|" in shown.text and CPR in shown.text
        assert actions(engine).count("REVEAL") == 1
        assert {"SEARCH", "READ"} <= set(actions(engine))

        audit = await client.get("/console/audit", params={"verify": "true"})
        assert audit.status_code == 200 and "The chain is intact" in audit.text
        assert "REVEAL" in audit.text and "ticket 9" in audit.text
        assert CPR not in audit.text  # the SEARCH's CPR is masked in the view
        assert (await client.get("/console/messages/99")).status_code == 404


async def test_an_integrator_resends_from_the_console_with_a_csrf_token(engine):
    async with signed_in(engine, "integrator") as client:
        page = await client.get("/console/messages/1")
        assert 'action="/console/messages/1/resend"' in page.text
        token = csrf(page)
        assert (await client.post("/console/messages/1/resend", data={})).status_code == 403
        cross = await client.post(
            "/console/messages/1/resend",
            data={"csrf": token},
            headers={"Origin": "http://127.0.0.1:1"},
        )
        assert cross.status_code == 403
        done = await client.post(
            "/console/messages/1/resend", data={"csrf": token, "reason": "EPJ asked again"}
        )
        assert done.status_code == 303
        assert done.headers["location"].startswith("/console/messages/1?done=")
        assert actions(engine).count("RESEND") == 1
        await eventually(lambda: actions(engine).count("SENT") == 2)
        after = await client.get(done.headers["location"])
        assert "1 delivery queued again" in after.text
