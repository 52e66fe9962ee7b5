"""SOAP destination through a running engine to the RKKP simulator, bound from its WSDL:
the XDIS01 discharge letter goes out as an RKKP quality report; a Client fault is fatal,
a Server fault is retried."""

from __future__ import annotations

import pytest
from conftest import FIXTURES, api_client, delivery_count, eventually, free_port
from lxml import etree

from engine.simulators.faults import Faults
from engine.simulators.rkkp import OPERATION, PORT, SERVICE, RkkpSimulator
from engine.store.queries import message_detail

XDIS01 = (FIXTURES / "oioxml" / "xdis01_discharge.xml").read_bytes()
Q = {"q": "urn:kanal:rkkp:quality-report:1"}


@pytest.fixture
async def rkkp():
    simulator = await RkkpSimulator().start()
    yield simulator
    await simulator.stop()


def soap_channel(wsdl: str, extra: str = "", operation: str = OPERATION) -> dict:
    return {
        "discharges": f"""
[channel]
name = "discharges"
[source]
type = "http"
[[destination]]
name = "rkkp"
type = "soap"
wsdl = "{wsdl}"
operation = "{operation}"
mapping = "xdis01-to-rkkp"
retry = {{ initial = "50ms", max = "100ms", jitter = 0 }}
{extra}
"""
    }


async def post(engine, body: bytes) -> None:
    url = f"http://127.0.0.1:{engine.api_port}/api/v1/channels/discharges/messages"
    async with api_client(engine) as client:
        response = await client.post(url, content=body)
        assert response.status_code == 202, response.text


def delivery(engine) -> dict:
    with engine.database.connect() as conn:
        return message_detail(conn, 1)["deliveries"][0]


async def test_the_quality_report_reaches_rkkp_through_its_wsdl(start_engine, rkkp):
    extra = f'service = "{SERVICE}"\nport = "{PORT}"'
    engine = await start_engine(soap_channel(rkkp.wsdl, extra))
    await post(engine, XDIS01)
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    [report] = rkkp.reports
    root = etree.fromstring(report.split("?>", 1)[1].strip().encode())
    assert etree.QName(root).localname == "QualityReport"
    [report_id] = rkkp.received
    assert root.findtext("q:ReportId", namespaces=Q) == report_id
    [attempt] = delivery(engine)["attempt_log"]
    assert attempt["outcome"] == "ok" and "RKKP-" in attempt["detail"]


async def test_a_server_fault_is_retried_and_delivered_once(start_engine, rkkp):
    rkkp.faults = Faults(fail_first=2)
    engine = await start_engine(soap_channel(rkkp.wsdl))
    await post(engine, XDIS01)
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    log = delivery(engine)["attempt_log"]
    assert [a["outcome"] for a in log] == ["transient", "transient", "ok"]
    assert "Server" in log[0]["detail"]
    assert list(rkkp.received.values()) == [1]


async def test_a_client_fault_is_dead_at_once(start_engine, rkkp):
    rkkp.faults = Faults(reject_all=True)
    engine = await start_engine(soap_channel(rkkp.wsdl))
    await post(engine, XDIS01)
    await eventually(lambda: delivery_count(engine, "DEAD") == 1)
    dead = delivery(engine)
    assert [a["outcome"] for a in dead["attempt_log"]] == ["fatal"]
    assert "SOAP fault" in dead["last_error"] and "Client" in dead["last_error"]
    assert "rejected the quality report" in dead["last_error"]


async def test_an_operation_the_wsdl_lacks_is_fatal(start_engine, rkkp):
    engine = await start_engine(soap_channel(rkkp.wsdl, operation="SubmitNothing"))
    await post(engine, XDIS01)
    await eventually(lambda: delivery_count(engine, "DEAD") == 1)
    assert "has no operation 'SubmitNothing'" in delivery(engine)["last_error"]
    assert not rkkp.received


async def test_no_wsdl_yet_is_unreachable_then_the_client_is_built(start_engine):
    port = free_port()
    engine = await start_engine(soap_channel(f"http://127.0.0.1:{port}/?wsdl"))
    await post(engine, XDIS01)
    await eventually(lambda: len(delivery(engine)["attempt_log"]) >= 1)
    first = delivery(engine)
    assert first["attempt_log"][0]["outcome"] == "unreachable" and first["attempts"] == 0
    partner = await RkkpSimulator(port=port).start()  # the partner comes up: delivered
    try:
        await eventually(lambda: delivery_count(engine, "SENT") == 1, timeout=30)
    finally:
        await partner.stop()
