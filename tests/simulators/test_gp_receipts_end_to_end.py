"""The GP simulator closes the VANS loop: Kanal delivers a letter into the GP's inbox, the GP
writes its receipt into the folder Kanal's receipt inbox reads, and the delivery ends
ACKNOWLEDGED (CTL03/XCTL03) or DEAD (CTL02/XCTL02)."""

from __future__ import annotations

import pytest
from conftest import FIXTURES, api_client, delivery_count, eventually

from engine.simulators.faults import Faults
from engine.simulators.gp import GpSimulator

XDIS01 = (FIXTURES / "oioxml" / "xdis01_discharge.xml").read_bytes()


@pytest.fixture
async def gp(tmp_path):
    simulator = await GpSimulator(tmp_path / "gp" / "in", tmp_path / "gp" / "receipts").start()
    yield simulator
    await simulator.stop()


async def start(start_engine, gp: GpSimulator):
    return await start_engine(
        {
            "to-gp": f"""
[channel]
name = "to-gp"
[source]
type = "http"
[[destination]]
name = "gp"
type = "directory"
path = "{gp.inbox}"
filename = "{{{{ msg.control_id }}}}.xml"
""",
            "receipts-from-gp": f"""
[channel]
name = "receipts-from-gp"
[source]
type = "directory"
path = "{gp.receipts}"
pattern = "*.xml"
poll = "100ms"
""",
        }
    )


async def post(engine, body: bytes) -> None:
    url = f"http://127.0.0.1:{engine.api_port}/api/v1/channels/to-gp/messages"
    async with api_client(engine) as client:
        assert (await client.post(url, content=body)).status_code == 202


async def test_the_gp_receipt_acknowledges_the_delivery(start_engine, gp):
    engine = await start(start_engine, gp)
    await post(engine, XDIS01)
    await eventually(lambda: delivery_count(engine, "ACKNOWLEDGED") == 1)
    assert len(gp.received) == 1 and gp.duplicates == 0


async def test_a_gp_refusal_makes_the_delivery_dead(start_engine, gp):
    gp.faults = Faults(reject_all=True)
    engine = await start(start_engine, gp)
    await post(engine, XDIS01)
    await eventually(lambda: delivery_count(engine, "DEAD") == 1)
    assert not gp.received
