"""What the benchmarks share: a lab channel (MLLP in, MLLP out to a sink) and `kanal run`
as a child process, started, waited for and stopped."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
from pathlib import Path


def engine_folder(folder: Path, channel: str, channel_toml: str, engine_toml: str) -> Path:
    """channels/<channel>.toml and engine.toml in `folder`; returns engine.toml's path."""
    (folder / "channels").mkdir(parents=True)
    (folder / "channels" / f"{channel}.toml").write_text(textwrap.dedent(channel_toml))
    config = folder / "engine.toml"
    config.write_text(textwrap.dedent(engine_toml))
    return config


def lab_channel(folder: Path, port: int, sink_port: int, engine_toml: str, **keys: object) -> Path:
    """channels/lab.toml (MLLP on `port` → MLLP to `sink_port`, plus destination `keys`)
    and engine.toml in `folder`; returns engine.toml's path."""
    extra = "".join(f"{key} = {value}\n" for key, value in keys.items())
    channel = f"""
        [channel]
        name = "lab"
        [source]
        type = "mllp"
        port = {port}
        [[destination]]
        name = "sink"
        type = "mllp"
        port = {sink_port}
        """
    return engine_folder(folder, "lab", textwrap.dedent(channel) + extra, engine_toml)


async def start_engine(
    config: Path, *options: str, log_level: str = "error"
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine", "run", "--config", str(config),
        "--log-level", log_level, *options, cwd=config.parent,
    )  # fmt: skip


async def start_sink(*arguments: str) -> tuple[asyncio.subprocess.Process, int]:
    """A simulator in its own process (`python *arguments`, e.g. "-m",
    "engine.simulators.epj", "--port", "0"), so it does not share the load generator's CPU;
    the process and its port."""
    sink = await asyncio.create_subprocess_exec(
        sys.executable, *arguments, stdout=asyncio.subprocess.PIPE
    )
    assert sink.stdout is not None
    return sink, json.loads(await sink.stdout.readline())["listening"]


async def stop_sink(sink: asyncio.subprocess.Process) -> dict[str, int]:
    """Stop a simulator from `start_sink`; what it received ({"received", "duplicates"})."""
    sink.terminate()
    assert sink.stdout is not None
    report = json.loads(await sink.stdout.readline())
    await sink.wait()
    return report


async def wait_listening(
    port: int, process: asyncio.subprocess.Process, timeout: float = 60
) -> None:
    """Until something accepts connections on `port`; fails if `process` exits first."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                if process.returncode is not None:
                    raise RuntimeError("the engine exited during start-up") from None
                await asyncio.sleep(0.02)


async def stop_engine(process: asyncio.subprocess.Process, timeout: float = 60) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far, from /proc (noise-proof beside wall time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, field: str = "VmHWM") -> float:
    """A process's memory from /proc: VmHWM (peak RSS) or VmRSS (now), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0
