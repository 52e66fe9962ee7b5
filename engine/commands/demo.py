"""`kanal demo`: the engine, an EPJ simulator and our fixtures, telling one patient's story."""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.table import Table
from sqlalchemy import and_, func, select

from engine.commands.common import ConfigOption, console, fail, load
from engine.config import (
    ChannelConfig,
    DirectoryDestination,
    DirectorySource,
    EngineConfig,
    FhirDestination,
    MllpDestination,
    MllpSource,
)
from engine.cpr import mask_cpr
from engine.formats import hl7v2
from engine.logs import configure
from engine.receipts.hl7_ack import parse_ack
from engine.runtime import Engine
from engine.simulators.epj import EpjSimulator
from engine.simulators.gp import GpSimulator
from engine.simulators.mllp_client import send_all
from engine.simulators.municipality import MunicipalitySimulator
from engine.store.queries import SearchFilter, channel_summary, message_detail, search_messages
from engine.store.schema import DeliveryStatus, deliveries, messages

FIXTURES = "fixtures/hl7v2"  # beside engine.toml
DEMO_CHANNELS = ("adt-from-epj", "lab-results", "referrals-in", "vans-inbox", "gp-receipts")
FINAL = (
    DeliveryStatus.SENT,
    DeliveryStatus.ACKNOWLEDGED,
    DeliveryStatus.DEAD,
    DeliveryStatus.CANCELLED,
)


def demo(
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
    outage: Annotated[float, typer.Option(help="seconds the EPJ is down mid-story")] = 3.0,
) -> None:
    """Run the engine with the demo channels and an EPJ simulator; send the fixtures."""
    configure("warning")
    engine_config, channels = load(config)
    by_name = {c.name: c for c in channels}
    missing = set(DEMO_CHANNELS) - set(by_name)
    if missing:
        fail(f"the demo needs the channels {sorted(missing)} in {engine_config.channels_dir}")
    asyncio.run(_story(engine_config, by_name, outage))


async def _story(config: EngineConfig, channels: dict[str, ChannelConfig], outage: float) -> None:
    partners = await _start_partners(channels)
    engine = Engine(config, list(channels.values()))
    await engine.start()
    started = time.time()
    try:
        await _steps(engine, channels, partners.epj, outage)
        await _wait_until_delivered(engine, started, timeout=60)
        await _wait_for_receipts(engine, started, partners.gp_destination, timeout=15)
        _print_summary(engine, started, partners)
        _print_patient_trail(engine, started, engine.config.path(FIXTURES) / "adt_a01_admit.hl7")
    finally:
        await engine.stop()
        await partners.stop()


@dataclass
class Partners:
    """The demo's partners: the EPJ (MLLP), the municipality (FHIR messaging), and a GP
    system reading its VANS folder and writing receipts back."""

    epj: EpjSimulator
    municipality: MunicipalitySimulator
    gp: GpSimulator
    gp_destination: str  # the lab-results destination that writes to the GP's folder

    async def stop(self) -> None:
        await self.gp.stop()
        await self.municipality.stop()
        await self.epj.stop()


async def _start_partners(channels: dict[str, ChannelConfig]) -> Partners:
    lab = channels["lab-results"].destination
    epj_port = next(d.port for d in lab if isinstance(d, MllpDestination))
    gp_inbox = next(d for d in lab if isinstance(d, DirectoryDestination))
    fhir = next(d for d in channels["adt-from-epj"].destination if isinstance(d, FhirDestination))
    receipts = channels["gp-receipts"].source
    assert isinstance(receipts, DirectorySource)
    return Partners(
        await EpjSimulator(port=epj_port).start(),
        await MunicipalitySimulator(port=urlsplit(fhir.base_url).port or 80).start(),
        await GpSimulator(Path(gp_inbox.path), Path(receipts.path), poll=0.5).start(),
        gp_inbox.name,
    )


async def _steps(
    engine: Engine, channels: dict[str, ChannelConfig], epj: EpjSimulator, outage: float
) -> None:
    adt = _port(channels["adt-from-epj"])
    lab = _port(channels["lab-results"])
    fixtures = engine.config.path(FIXTURES)
    say = console.print
    say(
        "[bold]1.[/bold] The GP's referral (MedCom XREF01) arrives as a file; "
        "the EPJ gets it as HL7 REF^I12."
    )
    referrals = channels["referrals-in"].source
    assert isinstance(referrals, DirectorySource)
    inbox = Path(referrals.path)
    inbox.mkdir(parents=True, exist_ok=True)
    referral = fixtures.parent / "oioxml" / "xref01_referral.xml"
    shutil.copy(referral, inbox / f"referral-{int(time.time())}.xml")
    say(
        "[bold]2.[/bold] The hospital admits the patient (ADT^A01); "
        "the municipality gets a HospitalNotification:",
        await _send(adt, fixtures / "adt_a01_admit.hl7"),
    )
    say(
        "[bold]3.[/bold] Lab results (ORU^R01) go to the EPJ, and as XRPT01 to the GP:",
        await _send(lab, fixtures / "oru_r01_lab.hl7"),
    )
    say(f"[bold]4.[/bold] The EPJ goes down for {outage:g}s; more results arrive meanwhile.")
    await asyncio.sleep(1.0)
    await epj.stop()
    say("   ", await _send(lab, fixtures / "oru_r01_lab.hl7", control_suffix="-2"))
    say("   ", await _send(adt, fixtures / "adt_a08_update_latin1.hl7"))
    await asyncio.sleep(outage)
    await epj.start()
    say("   The EPJ is back; Kanal delivers what waited.")
    say(
        "[bold]5.[/bold] The patient is discharged (ADT^A03):",
        await _send(adt, fixtures / "adt_a03_discharge.hl7"),
    )
    say(
        "[bold]6.[/bold] His discharge letter (MedCom EDIFACT DIS01) arrives in the VANS inbox; "
        "the municipality gets it as OIOXML XDIS01, the sender a CTL03 receipt."
    )
    vans = channels["vans-inbox"].source
    assert isinstance(vans, DirectorySource)
    Path(vans.path).mkdir(parents=True, exist_ok=True)
    dropped = Path(vans.path) / f"dis01-{int(time.time())}.edi"
    shutil.copy(fixtures.parent / "edifact" / "dis01_discharge.edi", dropped)
    for _ in range(100):  # until the inbox has taken it (it polls every half second)
        if not dropped.exists():
            break
        await asyncio.sleep(0.1)


def _port(channel: ChannelConfig) -> int:
    assert isinstance(channel.source, MllpSource)
    return channel.source.port


async def _send(port: int, fixture: Path, control_suffix: str = "") -> str:
    raw = fixture.read_bytes()
    if control_suffix:  # a new message, not a resend: its own control id
        first, rest = raw.split(b"\r", 1)
        fields = first.split(b"|")
        fields[9] += control_suffix.encode()
        raw = b"|".join(fields) + b"\r" + rest
    [ack] = await send_all("127.0.0.1", port, [raw])
    code, control_id, text = parse_ack(ack)
    return f"[green]{code}[/green] for {control_id}" + (f" ({text})" if text else "")


async def _wait_until_delivered(engine: Engine, since: float, timeout: float) -> None:
    if not await _until_none(engine, since, deliveries.c.status.not_in(FINAL), timeout):
        console.print("[yellow]some deliveries were still pending when the demo ended[/yellow]")


async def _wait_for_receipts(
    engine: Engine, since: float, destination: str, timeout: float
) -> None:
    """Letters to the GP are SENT, then ACKNOWLEDGED when its receipt comes back."""
    waiting = and_(
        deliveries.c.status == DeliveryStatus.SENT, deliveries.c.destination == destination
    )
    await _until_none(engine, since, waiting, timeout)


async def _until_none(engine: Engine, since: float, condition: Any, timeout: float) -> bool:
    """Wait until no delivery of this run meets `condition`; False if time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.database.connect() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(deliveries)
                .join(messages, messages.c.id == deliveries.c.message_id)
                .where(messages.c.received_at >= since, condition)
            ).scalar_one()
        if count == 0:
            return True
        await asyncio.sleep(0.25)
    return False


def _print_summary(engine: Engine, since: float, partners: Partners) -> None:
    with engine.database.connect() as conn:
        summary = channel_summary(conn, since=since)
    table = Table(
        "channel",
        "received",
        "filtered",
        "errors",
        "delivered",
        "acknowledged",
        "retrying",
        "dead",
        title="Kanal demo: this run",
    )
    for channel, counts in sorted(summary.items()):
        table.add_row(
            channel,
            str(counts.get("received", 0)),
            str(counts.get("message_filtered", 0)),
            str(counts.get("message_error", 0)),
            str(counts.get("delivery_sent", 0) + counts.get("delivery_acknowledged", 0)),
            str(counts.get("delivery_acknowledged", 0)),
            str(counts.get("delivery_retrying", 0) + counts.get("delivery_queued", 0)),
            str(counts.get("delivery_dead", 0)),
        )
    console.print(table)
    epj, municipality, gp = partners.epj, partners.municipality, partners.gp
    console.print(
        f"The EPJ simulator accepted {len(epj.received)} message(s), {epj.duplicates} duplicate(s)."
    )
    console.print(
        f"The municipality acknowledged {len(municipality.received)} FHIR message(s), "
        f"{municipality.duplicates} duplicate(s); the GP system receipted "
        f"{len(gp.received)} letter(s)."
    )
    console.print(
        "See every message: [bold]kanal messages search[/bold]; one in full: "
        "[bold]kanal messages show ID[/bold]"
    )


def _print_patient_trail(engine: Engine, since: float, admission: Path) -> None:
    """The auditor's question: what did we send about this patient, to whom, did it arrive?"""
    cpr = hl7v2.extract_metadata(hl7v2.parse(admission.read_bytes())).cpr
    with engine.database.connect() as conn:
        found = search_messages(conn, SearchFilter(cpr=cpr, since=since, limit=100))
        details = [message_detail(conn, row["id"]) for row in reversed(found)]
    table = Table(
        "message",
        "type",
        "channel",
        "destination",
        "status",
        "attempts",
        title=f"Everything sent about patient {mask_cpr(cpr)} in this run",
    )
    for detail in details:
        assert detail is not None
        for delivery in detail["deliveries"]:
            table.add_row(
                str(detail["id"]),
                detail["type"],
                detail["channel"],
                delivery["destination"],
                delivery["status"],
                str(len(delivery["attempt_log"])),
            )
    console.print(table)
