"""MedCom over HTTP: every FHIR message is answered with its Acknowledgement (the body
itself when asked for by Accept), a duplicate with the identical one, an acknowledgement
never; EDIFACT letters get their CTL receipt the same way."""

from __future__ import annotations

import json

import httpx
from conftest import FIXTURES, SHARED, api_client, message_rows

from engine.formats.edifact import parse_edifact
from engine.receipts.medcom import read_receipt

EXAMPLES = SHARED / "medcom" / "fhir" / "examples"
CARE = EXAMPLES / "carecommunication" / "Bundle-k7bfbc0c-553d-11ed-bdc3-0242ac120002.json"
CHANNELS = {
    "municipality-in": """
    [channel]
    name = "municipality-in"
    [source]
    type = "http"
    [[destination]]
    name = "archive"
    type = "directory"
    path = "out"
"""
}


async def post(engine, body: bytes, accept: str = "application/json") -> httpx.Response:
    url = f"http://127.0.0.1:{engine.api_port}/api/v1/channels/municipality-in/messages"
    async with api_client(engine) as client:
        return await client.post(url, content=body, headers={"Accept": accept})


async def test_a_fhir_message_is_answered_with_its_acknowledgement(start_engine):
    engine = await start_engine(CHANNELS)
    message = json.loads(CARE.read_bytes())
    header = next(
        e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == "MessageHeader"
    )

    response = await post(engine, CARE.read_bytes(), accept="application/fhir+json")
    assert response.status_code == 202
    assert response.headers["content-type"].startswith("application/fhir+json")
    ack = response.json()
    ack_header = ack["entry"][0]["resource"]
    assert ack_header["eventCoding"]["code"] == "acknowledgement-message"
    assert ack_header["response"]["identifier"] == header["id"]
    assert ack_header["response"]["code"] == "ok"

    # the same Bundle again: the identical acknowledgement, and no second delivery
    again = await post(engine, CARE.read_bytes(), accept="application/fhir+json")
    assert again.content == response.content
    first, second = message_rows(engine)
    assert (first.status, second.status) == ("ROUTED", "FILTERED")

    # an acknowledgement is never acknowledged
    answer = await post(engine, response.content)
    assert answer.status_code == 202
    assert "receipt" not in answer.json()["messages"][0]


async def test_an_edifact_letter_gets_its_ctl03_in_the_json_answer(start_engine):
    engine = await start_engine(CHANNELS)
    response = await post(engine, (FIXTURES / "edifact" / "dis01_discharge.edi").read_bytes())
    assert response.status_code == 202
    [item] = response.json()["messages"]
    verdict = read_receipt(parse_edifact(item["receipt"].encode("latin-1")))
    assert verdict is not None and verdict.kind == "CTL03" and verdict.refers_to == "K2611200001"


async def test_a_broken_edifact_letter_gets_a_ctl02_with_the_reason(start_engine):
    engine = await start_engine(CHANNELS)
    broken = (SHARED / "medcom" / "edifact_negative" / "DIS20_ERROR_UNH2.edi").read_bytes()
    response = await post(engine, broken, accept="application/edifact")
    assert response.status_code == 422
    verdict = read_receipt(parse_edifact(response.content))
    assert verdict is not None and verdict.kind == "CTL02" and not verdict.positive
    assert verdict.refusal_code == "SYN" and "UNT reference" in verdict.text
    [row] = message_rows(engine)
    assert row.status == "ERROR"
