"""Dead letters: found by `messages search --status DEAD`, sent again one by one or in bulk
(a thousand, with progress, each delivered exactly once), cancelled; the same over HTTP;
every change in the audit trail with who did it."""

from __future__ import annotations

import subprocess
import sys

from conftest import api_client, delivery_count, eventually, hl7, mllp_in, to_mllp

from engine.simulators.epj import Faults
from engine.simulators.mllp_client import send_all
from engine.store.queries import message_detail


def kanal(engine, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args, "--config", str(engine.config.path("engine.toml"))],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": ""},
    )


async def test_a_thousand_dead_letters_resent_in_bulk_are_each_delivered_once(start_engine, epj):
    epj.faults = Faults(reject_marker="REFUSE")  # AE: every one goes DEAD at once
    engine = await start_engine(mllp_in("adt", to_mllp("epj", epj.port)))
    frames = [hl7(f"BULK-{n:04d}", extra="^REFUSE") for n in range(1000)]
    await send_all("127.0.0.1", engine.listeners["adt"].port, frames)
    await eventually(lambda: delivery_count(engine, "DEAD") == 1000, timeout=60)

    listed = kanal(
        engine, "messages", "search", "--status", "DEAD", "--limit", "5000", "--format", "json"
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count('"status": "ROUTED"') == 1000

    epj.faults = Faults()  # the EPJ takes them now
    result = kanal(
        engine, "messages", "resend", "--status", "DEAD", "--yes", "--reason", "EPJ fixed"
    )
    assert result.returncode == 0, result.stderr
    assert "1000 deliveries queued again" in result.stdout
    await eventually(lambda: delivery_count(engine, "SENT") == 1000, timeout=60)
    assert len(epj.received) == 1000 and epj.duplicates == 0
    with engine.database.connect() as conn:
        trail = message_detail(conn, 1)["audit"]
    resent = [e for e in trail if e["action"] == "RESEND"]
    assert resent and resent[0]["actor"].startswith("cli:") and resent[0]["reason"] == "EPJ fixed"


async def test_resend_and_cancel_over_http(start_engine, epj):
    epj.faults = Faults(reject_marker="REFUSE")
    engine = await start_engine(
        mllp_in("adt", to_mllp("epj", epj.port, retry='{ initial = "30s" }'))
    )
    await send_all("127.0.0.1", engine.listeners["adt"].port, [hl7("ONE", extra="^REFUSE")])
    await eventually(lambda: delivery_count(engine, "DEAD") == 1)
    base = f"http://127.0.0.1:{engine.api_port}/api/v1"
    async with api_client(engine) as client:
        epj.faults = Faults(fail_first=1)  # one AR: it waits 30 s to retry, so it can be cancelled
        answer = await client.post(f"{base}/messages/1/resend", params={"reason": "try again"})
        assert answer.json() == {"resent": 1}
        await eventually(lambda: delivery_count(engine, "RETRYING") == 1)
        cancelled = await client.post(f"{base}/messages/1/cancel")
        assert cancelled.json() == {"cancelled": 1}
        assert delivery_count(engine, "CANCELLED") == 1
        nothing = await client.post(f"{base}/messages/1/cancel")
        assert nothing.status_code == 404
        bulk = await client.post(f"{base}/deliveries/resend", json={"status": "CANCELLED"})
        assert bulk.json() == {"resent": 1}
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    assert list(epj.received) == ["ONE"]
