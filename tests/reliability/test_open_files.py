"""`kanal run` started with a low soft limit on open files (as a shell or service manager
may start it) takes its hard limit, so 400 senders at once all get their AA instead of
the later ones failing in accept()."""

from __future__ import annotations

import asyncio
import contextlib
import resource
from pathlib import Path

import pytest
from conftest import (
    free_port,
    hl7,
    mllp_in,
    start_engine_process,
    stop_process,
    to_mllp,
    write_config,
)

from engine.receipts.hl7_ack import parse_ack
from engine.simulators.mllp_client import MllpClient

pytestmark = pytest.mark.slow

INHERITED_SOFT_LIMIT = 256
SENDERS = 400  # more than the inherited limit allows descriptors for


def start_with_a_low_soft_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (INHERITED_SOFT_LIMIT, hard))


def open_files_limits(pid: int) -> tuple[int, int]:
    """(soft, hard) "Max open files" of a running process, from /proc."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no 'Max open files' line")


async def test_many_senders_at_once_are_answered_despite_a_low_inherited_limit(tmp_path, epj):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < SENDERS * 2:
        pytest.skip(f"the hard limit on open files here is {hard}, too low to show anything")
    port = free_port()
    config = write_config(
        tmp_path,
        mllp_in(
            "adt", to_mllp("epj", epj.port), port=port, extra=f"max_connections = {SENDERS + 100}"
        ),
        "[api]\nenabled = false\n",
    )
    process = await start_engine_process(config, port, preexec_fn=start_with_a_low_soft_limit)
    try:
        assert open_files_limits(process.pid)[0] > INHERITED_SOFT_LIMIT
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(MllpClient("127.0.0.1", port, timeout=30))
                for _ in range(SENDERS)
            ]  # all connected before any sends: every one holds a descriptor in the engine
            answers = await asyncio.gather(
                *(client.exchange(hl7(f"MANY-{n:03d}")) for n, client in enumerate(clients))
            )
        codes = [parse_ack(answer)[:2] for answer in answers]
        assert codes == [("AA", f"MANY-{n:03d}") for n in range(SENDERS)]
        await epj.wait_for(SENDERS)
    finally:
        await stop_process(process)
