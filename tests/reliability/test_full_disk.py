"""The store's disk fills up (a real 32 MB tmpfs, filled with a file): senders get AR over
MLLP and 503 over HTTP, never an AA for what was not stored; once space is freed, new
messages are taken and everything that got an AA is delivered."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
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
from sqlalchemy import create_engine, select

from engine.receipts.hl7_ack import parse_ack
from engine.simulators.mllp_client import MllpClient
from engine.store.schema import messages
from engine.store.tokens import create_token

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MB tmpfs, unmounted at the end (the WAL alone reaches 4 MB and more between
    checkpoints: a smaller disk can fill up before the test fills it)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a small tmpfs for the store (needs root): {mounted.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI never skips)")
        pytest.skip(reason)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def fill(folder: Path) -> Path:
    """Write a file until the filesystem is full."""
    filler = folder / "filler"
    # unbuffered: nothing is left in a buffer for close() to flush into the full disk
    with filler.open("wb", buffering=0) as handle:
        chunk = b"\0" * 65536
        try:
            while True:
                handle.write(chunk)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            with contextlib.suppress(OSError):
                handle.truncate(handle.tell())
    return filler


async def send(client: MllpClient, control_id: str) -> str:
    code, echoed, _ = parse_ack(await client.exchange(hl7(control_id)))
    assert code != "AA" or echoed == control_id
    return code


async def test_a_full_disk_is_answered_ar_and_503_never_aa(tiny_disk, tmp_path, epj):
    port, api_port = free_port(), free_port()
    config = write_config(
        tmp_path,
        mllp_in(
            "adt",
            to_mllp("epj", epj.port, retry='{ initial = "100ms", max = "500ms" }'),
            port=port,
        ),
        f"""
        [store]
        url = "sqlite:///{tiny_disk}/kanal.db"
        [api]
        listen = "127.0.0.1:{api_port}"
        [queue]
        poll = "100ms"
        lease = "2s"
        """,
    )
    process = await start_engine_process(config, port)
    store = create_engine(f"sqlite:///{tiny_disk}/kanal.db")
    try:
        with store.begin() as conn:  # stored while there is space
            token = create_token(conn, "full-disk", "integrator")
        http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{api_port}", headers={"Authorization": f"Bearer {token}"}
        )
        acked: list[str] = []
        answers: dict[str, int] = {}
        async with MllpClient("127.0.0.1", port, timeout=10) as client, http:
            for i in range(50):  # the store works
                if await send(client, f"BEFORE-{i:03d}") == "AA":
                    acked.append(f"BEFORE-{i:03d}")
            assert len(acked) == 50

            started = time.monotonic()
            filler = fill(tiny_disk)
            for i in range(3000):  # until the store has nowhere left to write
                control_id = f"FULL-{i:04d}"
                code = await send(client, control_id)
                answers[code] = answers.get(code, 0) + 1
                if code == "AA":  # stored in space the store had already (its WAL)
                    acked.append(control_id)
                elif answers[code] >= 20:
                    break
            full_after = time.monotonic() - started
            assert answers.get("AR", 0) >= 20, f"the disk never filled up: {answers}"

            response = await http.post("/api/v1/channels/adt/messages", content=hl7("HTTP-FULL"))
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"]

            filler.unlink()
            for i in range(50):  # space again: new messages are taken at once
                control_id = f"AFTER-{i:03d}"
                assert await send(client, control_id) == "AA"
                acked.append(control_id)
            response = await http.post("/api/v1/channels/adt/messages", content=hl7("HTTP-AFTER"))
            assert response.status_code == 202, response.text
            acked.append("HTTP-AFTER")

        await eventually(lambda: set(acked) <= set(epj.received), timeout=30)
    finally:
        await stop_process(process)
    with store.connect() as conn:
        stored = set(conn.execute(select(messages.c.control_id)).scalars())
    store.dispose()
    assert set(acked) <= stored, "an AA was given for a message the store does not hold"
    refused = {f"FULL-{i:04d}" for i in range(sum(answers.values()))} - set(acked)
    assert not (refused | {"HTTP-FULL"}) & stored, "a refused message was stored after all"
    print(
        f"\ndisk full: answers {answers} ({full_after:.1f}s), {len(acked)} acknowledged, "
        f"all delivered, {epj.duplicates} duplicates at the EPJ"
    )
