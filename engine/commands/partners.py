"""`kanal partners run`: the partner simulators (EPJ, municipality, RKKP, GP) until Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.commands.common import console, fail
from engine.simulators.epj import EpjSimulator
from engine.simulators.faults import Faults
from engine.simulators.gp import GpSimulator
from engine.simulators.municipality import MunicipalitySimulator
from engine.simulators.rkkp import RkkpSimulator

app = typer.Typer(
    help="Partner simulators for the demo and for trying channels.", no_args_is_help=True
)
PARTNERS = ("epj", "municipality", "rkkp", "gp")


@app.command("run")
def run(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    epj_port: Annotated[int, typer.Option(help="EPJ MLLP port (0: any free port)")] = 2576,
    municipality_port: Annotated[int, typer.Option(help="municipality FHIR port")] = 8091,
    rkkp_port: Annotated[int, typer.Option(help="RKKP SOAP port")] = 8092,
    gp_inbox: Annotated[
        Path | None, typer.Option(help="folder Kanal delivers GP letters to")
    ] = None,
    gp_receipts: Annotated[
        Path | None, typer.Option(help="folder the GP writes receipts to")
    ] = None,
    fail_first: Annotated[int, typer.Option(help="answer 'try again' to the first N")] = 0,
    down_for: Annotated[float, typer.Option(help="seconds out of service from the start")] = 0.0,
    delay: Annotated[float, typer.Option(help="seconds before each answer")] = 0.0,
    reject_marker: Annotated[str, typer.Option(help="reject messages containing this text")] = "",
    reject_all: Annotated[bool, typer.Option(help="reject every message")] = False,
    faulty: Annotated[
        list[str] | None, typer.Option(help="partners the faults apply to (default: all)")
    ] = None,
) -> None:
    """Run the four partner simulators, print where each listens, stop on Ctrl-C."""
    if (gp_inbox is None) != (gp_receipts is None):
        fail("--gp-inbox and --gp-receipts go together")
    unknown = set(faulty or ()) - set(PARTNERS)
    if unknown:
        fail(f"--faulty takes {', '.join(PARTNERS)}; not {', '.join(sorted(unknown))}")
    faults = Faults(fail_first, reject_marker, delay, down_for, reject_all)

    def faults_for(name: str) -> Faults:
        return faults if not faulty or name in faulty else Faults()

    simulators: dict[str, Any] = {
        "epj": EpjSimulator(host, epj_port, faults_for("epj")),
        "municipality": MunicipalitySimulator(host, municipality_port, faults_for("municipality")),
        "rkkp": RkkpSimulator(host, rkkp_port, faults_for("rkkp")),
    }
    if gp_inbox is not None and gp_receipts is not None:
        simulators["gp"] = GpSimulator(gp_inbox, gp_receipts, faults=faults_for("gp"))
    asyncio.run(_run(simulators))


async def _run(simulators: dict[str, Any]) -> None:
    started = []
    try:
        for simulator in simulators.values():
            started.append(await simulator.start())
    except OSError as exc:
        for simulator in started:
            await simulator.stop()
        fail(f"cannot start the partners: {exc}")
    for name, simulator in simulators.items():
        console.print(f"{name:<13} {_where(simulator)}", highlight=False)
    console.print("Ctrl-C stops them.", style="dim")
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    for name, simulator in simulators.items():
        await simulator.stop()
        console.print(
            f"{name:<13} received {len(simulator.received)}, duplicates {simulator.duplicates}",
            highlight=False,
        )


def _where(simulator: Any) -> str:
    if isinstance(simulator, EpjSimulator):
        return f"MLLP {simulator.host}:{simulator.port} (HL7 ACKs)"
    if isinstance(simulator, MunicipalitySimulator):
        return f"FHIR {simulator.base_url} (messages: POST .../$process-message)"
    if isinstance(simulator, RkkpSimulator):
        return f"SOAP WSDL {simulator.wsdl}"
    assert isinstance(simulator, GpSimulator)
    return f"VANS letters from {simulator.inbox}, receipts to {simulator.receipts}"
