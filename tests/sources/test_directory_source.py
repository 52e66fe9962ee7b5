"""Directory source: files are taken once, moved to done/ or error/ with the reason."""

from __future__ import annotations

import os
import time

from conftest import FIXTURES, eventually, message_rows


async def test_files_move_to_done_or_error(start_engine, tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    good = inbox / "admit.hl7"
    good.write_bytes((FIXTURES / "hl7v2" / "adt_a01_admit.hl7").read_bytes())
    bad = inbox / "broken.hl7"
    bad.write_bytes(b"PID|1||no header here")
    ignored = inbox / "notes.txt"
    ignored.write_text("not matched by the pattern")
    past = time.time() - 5
    for path in (good, bad):
        os.utime(path, (past, past))

    engine = await start_engine(
        {
            "referrals": f"""
        [channel]
        name = "referrals"
        [source]
        type = "directory"
        path = "{inbox}"
        pattern = "*.hl7"
        poll = "100ms"
        [[destination]]
        name = "out"
        type = "directory"
        path = "{out}"
    """
        }
    )

    await eventually(
        lambda: (
            (inbox / "done" / "admit.hl7").exists() and (inbox / "error" / "broken.hl7").exists()
        )
    )
    reason = (inbox / "error" / "broken.hl7.error.txt").read_text()
    assert "MSH" in reason
    assert ignored.exists()
    statuses = sorted(row.status for row in message_rows(engine))
    assert statuses[0] == "ERROR"
    await eventually(lambda: len(list(out.glob("*"))) == 1)
    [delivered] = out.glob("*")
    assert delivered.read_bytes() == (inbox / "done" / "admit.hl7").read_bytes()
