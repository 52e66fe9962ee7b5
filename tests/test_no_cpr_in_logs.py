"""No patient data in the logs: an engine at debug level takes messages with CPR numbers,
a broken one, and a delivery that fails; its whole log holds no CPR number."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
import sys
from pathlib import Path

import structlog
from conftest import eventually, free_port, hl7, mllp_in, to_mllp, write_config

from engine.logs import configure
from engine.simulators.faults import Faults
from engine.simulators.mllp_client import send_all

CPR = "0101451234"


def dead_deliveries(store: Path) -> int:
    with contextlib.closing(sqlite3.connect(store)) as conn:
        return int(
            conn.execute("SELECT count(*) FROM deliveries WHERE status = 'DEAD'").fetchone()[0]
        )


async def test_the_log_holds_no_cpr_number(tmp_path, epj):
    epj.faults = Faults(reject_all=True)  # every delivery is refused (AE): failures logged
    port = free_port()
    channels = mllp_in("adt", to_mllp("epj", epj.port, retry="{ max_attempts = 1 }"), port=port)
    config = write_config(tmp_path, channels, '[api]\nenabled = false\n[queue]\npoll = "100ms"\n')
    log = (tmp_path / "engine.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine", "run", "--config", str(config),
        "--log-level", "debug", "--log-json",
        cwd=tmp_path, stderr=log, stdout=log,
    )  # fmt: skip
    try:
        async with asyncio.timeout(30):
            while True:
                try:
                    await send_all("127.0.0.1", port, [hl7("LOG-1", cpr=CPR)])
                    break
                except OSError:
                    await asyncio.sleep(0.1)
        broken = hl7("LOG-2", cpr=CPR).replace(b"MSH|^~\\&", b"MSH|^~\\&|\x00", 1)
        await send_all("127.0.0.1", port, [broken, b"PID|1||" + CPR.encode() + b"\r"])
        await eventually(lambda: dead_deliveries(tmp_path / "var" / "kanal.db") == 1)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)
        log.close()
    text = (tmp_path / "engine.log").read_text(errors="replace")
    assert text.strip(), "the engine logged nothing at debug level"
    assert CPR not in text and "010145-1234" not in text


def test_a_cpr_quoted_in_a_log_event_is_masked(capsys, caplog):
    """The last line of defence: text from a message that reaches a log line anyway."""
    configure("info", json=True)
    log = structlog.get_logger("kanal.test")
    log.warning("x", detail=f"PID|1||{CPR}^^^CPR", other="0101451234")
    logging.getLogger("some.library").warning("quoting 010145-1234 and %s", CPR)
    ours, theirs = capsys.readouterr().err, caplog.text  # structlog; stdlib (pytest's handler)
    structlog.reset_defaults()  # leave the other tests the default configuration
    for text in (ours, theirs):
        assert CPR not in text and "010145-1234" not in text
        assert text.count("010145-****") == 2
