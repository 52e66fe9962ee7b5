"""`kanal run`: start the engine and keep it running until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import resource
import signal
from enum import StrEnum
from typing import Annotated

import structlog
import typer
import uvloop
from pydantic import ValidationError

from engine.commands.common import ConfigOption, fail, load
from engine.config import ApiSection, ConfigError, EngineConfig
from engine.logs import configure
from engine.runtime import Engine

log = structlog.get_logger("kanal.engine")
OPEN_FILES_UNLIMITED = 1_048_576  # when the hard limit is "unlimited": Linux's usual nr_open


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
    listen: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT of this process's HTTP, instead of [api] listen: the API, or a "
            "worker's /healthz and /metrics (a worker serves them only when given this)"
        ),
    ] = None,
) -> None:
    """Start listeners, routing, delivery workers and the API."""
    engine_config, channels = load(config)
    engine_config = _http_of_this_process(engine_config, role, listen)
    configure(log_level, log_json)
    _raise_open_file_limit()
    try:
        engine = Engine(engine_config, channels, role=role.value)
    except ConfigError as exc:
        fail(str(exc))
    # uvloop: the same asyncio, with its loop and sockets in C (~20% more messages/s)
    uvloop.run(_serve(engine))


def _http_of_this_process(
    config: EngineConfig, role: RoleOption, listen: str | None
) -> EngineConfig:
    """--listen moves this process's HTTP. A worker without it serves none: beside a
    receiver on one machine, [api] listen is the receiver's port."""
    if listen is not None:
        try:  # validated as [api] listen is
            api = ApiSection.model_validate(
                {**config.api.model_dump(), "listen": listen, "enabled": True}
            )
        except ValidationError:
            fail(f"--listen takes HOST:PORT, e.g. 127.0.0.1:9101 (got {listen!r})")
    elif role == RoleOption.worker:
        api = config.api.model_copy(update={"enabled": False})
    else:
        return config
    return config.model_copy(update={"api": api})


def _raise_open_file_limit() -> None:
    """Every connection and file is a descriptor: take the hard limit rather than the soft
    one a shell or service manager starts us with (often 1,024), so that many senders are
    refused by `max_connections` with a clear log line, not by accept() failing."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else OPEN_FILES_UNLIMITED
    if soft >= wanted:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError) as exc:  # e.g. above the kernel's nr_open
        log.warning("engine.open_files_limit", soft=soft, wanted=wanted, error=str(exc))
        return
    log.info("engine.open_files_raised", was=soft, now=wanted)


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
