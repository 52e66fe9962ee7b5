"""The partner simulators on real sockets and folders: each fault does what it says."""

from __future__ import annotations

import asyncio
import copy
import json
import time

import httpx
import pytest
import zeep
import zeep.exceptions
from conftest import FIXTURES, eventually, hl7
from fhirpy import AsyncFHIRClient

from engine.formats.edifact import parse_edifact
from engine.formats.xml import parse_xml
from engine.receipts.hl7_ack import parse_ack
from engine.receipts.medcom import read_receipt
from engine.simulators.faults import Faults
from engine.simulators.gp import GpSimulator
from engine.simulators.mllp_client import send_all
from engine.simulators.municipality import MunicipalitySimulator
from engine.simulators.rkkp import RkkpSimulator

CARE = json.loads((FIXTURES / "fhir" / "carecommunication.json").read_bytes())
HEADER_ID = "8e2f8d06-d8b6-48f6-9deb-95b9d61eec3c"
DIS01 = (FIXTURES / "edifact" / "dis01_discharge.edi").read_bytes()
XDIS01 = (FIXTURES / "oioxml" / "xdis01_discharge.xml").read_bytes()
REPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<QualityReport xmlns="urn:kanal:rkkp:quality-report:1"><ReportId>R-1</ReportId></QualityReport>"""
PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": "0101451234"}],
    "name": [{"family": "Jensen"}],
}


@pytest.fixture
async def municipality():
    simulator = await MunicipalitySimulator().start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def rkkp():
    simulator = await RkkpSimulator().start()
    yield simulator
    await simulator.stop()


async def process(simulator: MunicipalitySimulator, bundle: dict) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{simulator.base_url}/$process-message", json=bundle)


def ack(response: httpx.Response):
    assert response.status_code == 200
    verdict = read_receipt(response.json())
    assert verdict is not None and verdict.refers_to == HEADER_ID
    return verdict


# --- municipality: FHIR messaging --------------------------------------------------------


async def test_municipality_acknowledges_ok_and_answers_a_duplicate_identically(municipality):
    first = await process(municipality, CARE)
    assert ack(first).response_code == "ok"
    again = await process(municipality, CARE)
    assert again.json() == first.json()  # MedCom: the same Acknowledgement content
    assert municipality.received[HEADER_ID] == 2 and municipality.duplicates == 1
    assert len(municipality.messages) == 1


async def test_municipality_faults_answer_transient_and_fatal_acknowledgements(municipality):
    municipality.faults = Faults(fail_first=1)
    transient = ack(await process(municipality, CARE))
    assert transient.response_code == "transient-error"
    assert "MSG_Mailbox_Out_Of_Operation" in transient.issue_codes
    assert ack(await process(municipality, CARE)).response_code == "ok"

    municipality.faults = Faults(reject_marker="care-communication-message")
    fatal = ack(await process(municipality, CARE))
    assert fatal.response_code == "fatal-error" and "rejected" in fatal.text
    assert municipality.received[HEADER_ID] == 1  # only the accepted copy counts


async def test_municipality_down_answers_503_then_recovers(municipality):
    municipality.faults = Faults(down_for=0.3)
    down = await process(municipality, CARE)
    assert down.status_code == 503 and down.headers["Retry-After"] == "1"
    await asyncio.sleep(0.35)
    assert ack(await process(municipality, CARE)).response_code == "ok"


async def test_municipality_delays_every_answer(municipality):
    municipality.faults = Faults(delay=0.3)
    started = time.monotonic()
    await process(municipality, CARE)
    assert time.monotonic() - started >= 0.3


async def test_municipality_never_acknowledges_an_acknowledgement(municipality):
    acknowledgement = (await process(municipality, CARE)).json()
    assert (await process(municipality, acknowledgement)).status_code == 204


# --- municipality: FHIR REST -------------------------------------------------------------


async def test_municipality_rest_works_for_fhirpy_with_conditional_create(municipality):
    client = AsyncFHIRClient(municipality.base_url)
    created = await client.resource("Patient", **copy.deepcopy(PATIENT)).save()
    assert created.id
    search = client.resources("Patient").search(identifier="urn:oid:1.2.208.176.1.2|0101451234")
    again, made = await search.get_or_create(client.resource("Patient", **PATIENT))
    assert (again.id, made) == (created.id, False)
    async with httpx.AsyncClient() as http:
        conditional = await http.post(
            f"{municipality.base_url}/Patient",
            json=PATIENT,
            headers={"If-None-Exist": "identifier=urn:oid:1.2.208.176.1.2|0101451234"},
        )
    assert conditional.status_code == 200 and conditional.json()["id"] == created.id
    assert len(municipality.store.resources) == 1
    fetched = await client.get("Patient", created.id)
    assert fetched["name"][0]["family"] == "Jensen"


async def test_municipality_takes_transaction_bundles_and_rewrites_references(municipality):
    bundle = {
        "resourceType": "Bundle",
        "id": "tx-1",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:p1",
                "resource": PATIENT,
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:e1",
                "resource": {
                    "resourceType": "Encounter",
                    "status": "in-progress",
                    "subject": {"reference": "urn:uuid:p1"},
                },
                "request": {"method": "POST", "url": "Encounter"},
            },
        ],
    }
    async with httpx.AsyncClient() as http:
        answer = await http.post(municipality.base_url, json=bundle)
        assert answer.status_code == 200
        assert [e["response"]["status"] for e in answer.json()["entry"]] == ["201", "201"]
        municipality.faults = Faults(reject_all=True)
        assert (await http.post(municipality.base_url, json=bundle)).status_code == 422
    [patient] = municipality.store.search("Patient", {})
    [encounter] = municipality.store.search("Encounter", {})
    assert encounter["subject"]["reference"] == f"Patient/{patient['id']}"
    assert municipality.received["tx-1"] == 1


# --- RKKP: SOAP --------------------------------------------------------------------------


def submit(simulator: RkkpSimulator, report: bytes) -> str:
    client = zeep.Client(simulator.wsdl)
    return str(client.service.SubmitQualityReport(report.decode()))


async def test_rkkp_publishes_its_wsdl_and_counts_reports(rkkp):
    first = await asyncio.to_thread(submit, rkkp, REPORT)
    again = await asyncio.to_thread(submit, rkkp, REPORT)
    assert first == again and first.startswith("RKKP-")
    assert rkkp.received["R-1"] == 2 and rkkp.duplicates == 1


async def test_rkkp_faults_are_soap_faults(rkkp):
    rkkp.faults = Faults(fail_first=1, reject_marker="REJECT-ME")
    with pytest.raises(zeep.exceptions.Fault) as server:
        await asyncio.to_thread(submit, rkkp, REPORT)
    assert server.value.code.endswith("Server")
    await asyncio.to_thread(submit, rkkp, REPORT)  # the second is taken
    with pytest.raises(zeep.exceptions.Fault) as client:
        await asyncio.to_thread(submit, rkkp, REPORT.replace(b"R-1", b"REJECT-ME"))
    assert client.value.code.endswith("Client")
    with pytest.raises(zeep.exceptions.Fault) as unreadable:
        await asyncio.to_thread(submit, rkkp, b"not xml")
    assert unreadable.value.code.endswith("Client")
    assert dict(rkkp.received) == {"R-1": 1}


# --- GP: VANS folders --------------------------------------------------------------------


@pytest.fixture
async def gp(tmp_path):
    simulator = await GpSimulator(tmp_path / "in", tmp_path / "receipts").start()
    yield simulator
    await simulator.stop()


def receipts_of(gp: GpSimulator) -> list:
    return sorted(gp.receipts.glob("*"))


async def test_gp_answers_edifact_with_ctl03_and_oioxml_with_xctl03(gp):
    (gp.inbox / "dis01.edi").write_bytes(DIS01)
    (gp.inbox / "xdis01.xml").write_bytes(XDIS01)
    await eventually(lambda: len(receipts_of(gp)) == 2)
    edifact, xml = receipts_of(gp)
    assert edifact.name == "dis01.ctl03.edi" and xml.name == "xdis01.xctl03.xml"
    verdict = read_receipt(parse_edifact(edifact.read_bytes()))
    assert verdict is not None and verdict.kind == "CTL03" and verdict.positive
    assert verdict.refers_to == "K2611200001"
    xml_verdict = read_receipt(parse_xml(xml.read_bytes()))
    assert xml_verdict is not None and xml_verdict.positive
    assert sorted(p.name for p in (gp.inbox / "done").iterdir()) == ["dis01.edi", "xdis01.xml"]
    assert gp.received["K2611200001"] == 1

    (gp.inbox / "dis01-again.edi").write_bytes(DIS01)  # the same letter delivered twice
    await eventually(lambda: gp.duplicates == 1)


async def test_gp_rejects_with_ctl02_and_is_silent_while_down(gp):
    gp.faults = Faults(down_for=0.5, reject_all=True)
    (gp.inbox / "dis01.edi").write_bytes(DIS01)
    await asyncio.sleep(0.3)
    assert receipts_of(gp) == [] and (gp.inbox / "dis01.edi").exists()  # not reading
    await eventually(lambda: len(receipts_of(gp)) == 1)
    [receipt] = receipts_of(gp)
    assert receipt.name == "dis01.ctl02.edi"
    verdict = read_receipt(parse_edifact(receipt.read_bytes()))
    assert verdict is not None and not verdict.positive and verdict.refusal_code == "NC"
    assert (gp.inbox / "error" / "dis01.edi").exists() and not gp.received


# --- EPJ: the shared faults --------------------------------------------------------------


async def test_epj_answers_ar_while_down(epj):
    epj.faults = Faults(down_for=0.3)
    [down] = await send_all("127.0.0.1", epj.port, [hl7("DOWN-1")])
    assert parse_ack(down)[0] == "AR"
    await asyncio.sleep(0.35)
    [up] = await send_all("127.0.0.1", epj.port, [hl7("DOWN-1")])
    assert parse_ack(up)[0] == "AA" and epj.received["DOWN-1"] == 1
