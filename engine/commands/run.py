"""`kanal run`: start the engine and keep it running until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import signal
from enum import StrEnum
from typing import Annotated

import typer
import uvloop

from engine.commands.common import ConfigOption, fail, load
from engine.config import ConfigError
from engine.logs import configure
from engine.runtime import Engine


class RoleOption(StrEnum):
    """What this process does; several processes of any role share one store."""

    all = "all"
    receiver = "receiver"
    worker = "worker"


def run(
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
    log_json: Annotated[bool, typer.Option(help="JSON log lines")] = False,
    role: Annotated[
        RoleOption,
        typer.Option(help="receiver (sources, API), worker (deliveries) or all"),
    ] = RoleOption.all,
) -> None:
    """Start listeners, routing, delivery workers and the API."""
    configure(log_level, log_json)
    engine_config, channels = load(config)
    try:
        engine = Engine(engine_config, channels, role=role.value)
    except ConfigError as exc:
        fail(str(exc))
    # uvloop: the same asyncio, with its loop and sockets in C (~20% more messages/s)
    uvloop.run(_serve(engine))


async def _serve(engine: Engine) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await engine.start()
    # What start-up loaded (modules, schemas, mappings) lives as long as the process: out of
    # the collector's sight, a full collection no longer walks it (~60 ms pauses, each one a
    # late ACK for every sender).
    gc.freeze()
    try:
        await engine.run_until(stop)
    finally:
        await engine.stop()
