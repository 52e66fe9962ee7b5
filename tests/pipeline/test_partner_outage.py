"""The municipality's FHIR mailbox fails for 30 seconds while the EPJ on the same channel
keeps receiving; after recovery every message reaches the municipality exactly once
(the simulators count duplicates by message id)."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import FIXTURES, delivery_count, eventually, mllp_in, to_mllp

from engine.simulators.faults import Faults
from engine.simulators.mllp_client import send_all
from engine.simulators.municipality import MunicipalitySimulator

pytestmark = pytest.mark.slow
ADMIT = (FIXTURES / "hl7v2" / "adt_a01_admit.hl7").read_bytes()
OUTAGE = 30.0


def admission(n: int) -> bytes:
    """The admission fixture as a new message: its own MSH-10."""
    first, rest = ADMIT.split(b"\r", 1)
    fields = first.split(b"|")
    fields[9] = f"OUTAGE-{n:03d}".encode()
    return b"|".join(fields) + b"\r" + rest


async def test_one_partner_down_30_seconds_the_other_keeps_receiving(start_engine, epj):
    municipality = await MunicipalitySimulator().start()
    try:
        municipality.faults = Faults(down_for=OUTAGE)  # HTTP 503 from now for 30 s
        outage_ends = time.monotonic() + OUTAGE
        engine = await start_engine(
            mllp_in(
                "adt",
                to_mllp("epj", epj.port),
                f"""[[destination]]
name = "municipality"
type = "fhir"
base_url = "{municipality.base_url}"
mapping = "adt-to-hospitalnotification"
retry = {{ max_attempts = 100, initial = "500ms", max = "3s" }}
""",
            )
        )
        port = engine.listeners["adt"].port
        sent = 0
        for _ in range(10):  # messages keep coming during the outage
            await send_all("127.0.0.1", port, [admission(sent + i) for i in range(10)])
            sent += 10
            await epj.wait_for(sent)  # the EPJ has each batch while the municipality fails
            await asyncio.sleep(OUTAGE / 15)
        if time.monotonic() < outage_ends - 1:  # (a slow machine may be past it already)
            assert not municipality.received
        assert delivery_count(engine, "DEAD") == 0

        await eventually(
            lambda: delivery_count(engine, "ACKNOWLEDGED", "municipality") == sent,
            timeout=OUTAGE + 30,
        )
        assert len(municipality.received) == sent and municipality.duplicates == 0
        assert len(epj.received) == sent and epj.duplicates == 0
    finally:
        await municipality.stop()
