"""Shared test set-up: engines on real sockets in a temporary folder, partner simulators."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from engine.config import load_channels, load_engine_config
from engine.devservers import ServerUnavailable
from engine.devservers.ports import free_port as free_port  # re-exported to the tests
from engine.devservers.postgres import PostgreSQL
from engine.devservers.rabbitmq import RabbitMQ, TlsFiles
from engine.runtime import Engine, Role
from engine.simulators.epj import EpjSimulator
from engine.store.schema import deliveries, messages
from engine.store.tokens import create_token

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = REPO / "fixtures"


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared material not found at {SHARED} (it belongs beside the repo)")
    return SHARED


def write_config(folder: Path, channels: dict[str, str], engine_toml: str = "") -> Path:
    """An engine.toml (API on a free port) and channel files in `folder`."""
    (folder / "channels").mkdir(parents=True, exist_ok=True)
    for name, body in channels.items():
        (folder / "channels" / f"{name}.toml").write_text(textwrap.dedent(body))
    config = folder / "engine.toml"
    config.write_text(
        textwrap.dedent(engine_toml) or '[api]\nlisten = "127.0.0.1:0"\n[queue]\npoll = "100ms"\n'
    )
    mappings = folder / "mappings"
    if not mappings.exists():
        mappings.symlink_to(REPO / "mappings")
    return config


@pytest.fixture
async def epj() -> AsyncIterator[EpjSimulator]:
    simulator = await EpjSimulator().start()
    yield simulator
    await simulator.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory, certificate) -> Iterator[RabbitMQ]:
    """A private RabbitMQ node on loopback (plain and TLS listeners) for the whole run."""
    cert, key = certificate
    folder = tmp_path_factory.mktemp("rabbitmq")
    server = available(lambda: RabbitMQ(folder, tls=TlsFiles(cert=cert, key=key, ca=cert)))
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgreSQL]:
    """A private PostgreSQL cluster on loopback for the whole run."""
    server = available(PostgreSQL)
    server.start()
    yield server
    server.close()


@pytest.fixture
def postgres_url(postgres: PostgreSQL, request: pytest.FixtureRequest) -> str:
    """A fresh database for one test."""
    return postgres.create_database(f"t{uuid.uuid4().hex[:16]}")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store for one test: a SQLite file, then a PostgreSQL database."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'store.db'}"


def available(make: Callable[[], Any]) -> Any:
    """The server, or skip (fail under CI=true) when its package is missing."""
    try:
        return make()
    except ServerUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc} (CI never skips server tests)")
        pytest.skip(str(exc))


EngineFactory = Callable[..., Any]


@pytest.fixture
async def start_engine(tmp_path: Path) -> AsyncIterator[EngineFactory]:
    """Start an engine from channel TOML snippets; stopped at the end of the test."""
    engines: list[Engine] = []

    async def start(channels: dict[str, str], engine_toml: str = "", role: Role = "all") -> Engine:
        config_path = write_config(tmp_path, channels, engine_toml)
        config = load_engine_config(config_path)
        engine = Engine(config, load_channels(config.channels_dir, config.base_dir), role)
        await engine.start()
        engines.append(engine)
        return engine

    yield start
    for engine in engines:
        await engine.stop()


async def start_engine_process(
    config: Path,
    port: int | None,
    role: str = "all",
    preexec_fn: Callable[[], Any] | None = None,
    options: tuple[str, ...] = (),
) -> asyncio.subprocess.Process:
    """`kanal run` as a child process; returns once it listens on `port` (if given).
    `preexec_fn` runs in the child before the engine (e.g. to lower a limit); `options`
    go to `kanal run`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "engine",
        "run",
        "--config",
        str(config),
        "--log-level",
        "error",
        "--role",
        role,
        *options,
        cwd=config.parent,
        preexec_fn=preexec_fn,
    )
    if port is None:
        return process
    async with asyncio.timeout(30):
        while True:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return process
            assert process.returncode is None, "the engine exited during start-up"
            await asyncio.sleep(0.1)


def api_token(engine: Engine, role: str = "integrator", channel: str | None = None) -> str:
    """A fresh API token with this role, straight in the engine's store."""
    with engine.database.begin() as conn:
        return create_token(conn, f"test-{uuid.uuid4().hex[:8]}", role, channel)


def api_client(
    engine: Engine, role: str = "integrator", channel: str | None = None, **options: Any
) -> httpx.AsyncClient:
    """An HTTP client for the engine's API, holding a token with this role."""
    headers = {"Authorization": f"Bearer {api_token(engine, role, channel)}"}
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{engine.api_port}", headers=headers, **options
    )


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM a `kanal run` child and wait for it to end."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)


async def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until check() is true; fail with a clear message otherwise."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


def hl7(
    control_id: str, cpr: str = "0101451234", msg_type: str = "ADT^A01", extra: str = ""
) -> bytes:
    """A small synthetic HL7 v2.5 message with its own control id."""
    segments = [
        f"MSH|^~\\&|EPJ|RHH|KANAL|KANAL|20250314093000||{msg_type}|{control_id}|P|2.5",
        "EVN|A01|20250314093000",
        f"PID|1||{cpr}^^^CPR^NNDN||Jensen^Anna||19450101|F",
        f"PV1|1|I|MED^M101^1{extra}",
    ]
    return ("\r".join(segments) + "\r").encode()


def delivery_count(engine: Engine, status: str, destination: str | None = None) -> int:
    query = select(func.count()).select_from(deliveries).where(deliveries.c.status == status)
    if destination:
        query = query.where(deliveries.c.destination == destination)
    with engine.database.connect() as conn:
        return int(conn.execute(query).scalar_one())


def message_rows(engine: Engine) -> list[Any]:
    with engine.database.connect() as conn:
        return list(conn.execute(select(messages).order_by(messages.c.id)))


def mllp_in(name: str, *destinations: str, port: int = 0, extra: str = "") -> dict[str, str]:
    """A channel with an MLLP source (a free port by default) and the given destinations."""
    head = f'[channel]\nname = "{name}"\n[source]\ntype = "mllp"\nport = {port}\n{extra}\n'
    return {name: head + "\n".join(destinations)}


def to_mllp(name: str, port: int, **keys: str) -> str:
    """A [[destination]] table of type mllp; keys are extra TOML values, written as-is."""
    return _destination(name, "mllp", f"port = {port}", keys)


def to_directory(name: str, path: Path | str, **keys: str) -> str:
    return _destination(name, "directory", f'path = "{path}"', keys)


def _destination(name: str, kind: str, where: str, keys: dict[str, str]) -> str:
    extra = "".join(f"{key} = {value}\n" for key, value in keys.items())
    return f'[[destination]]\nname = "{name}"\ntype = "{kind}"\n{where}\n{extra}'
