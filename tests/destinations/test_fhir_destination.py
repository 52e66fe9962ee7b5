"""FHIR destination through a running engine to the municipality simulator: its
Acknowledgement decides (ok → SENT, transient-error → retried, fatal-error → DEAD)."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES, api_client, delivery_count, eventually, free_port, hl7, mllp_in

from engine.config import ConfigError, load_channel
from engine.simulators.faults import Faults
from engine.simulators.mllp_client import send_all
from engine.simulators.municipality import MunicipalitySimulator
from engine.store.queries import message_detail

CARE = (FIXTURES / "fhir" / "carecommunication.json").read_bytes()
HEADER_ID = "8e2f8d06-d8b6-48f6-9deb-95b9d61eec3c"
RETRY = 'retry = { initial = "50ms", max = "100ms", jitter = 0 }'


@pytest.fixture
async def municipality():
    simulator = await MunicipalitySimulator().start()
    yield simulator
    await simulator.stop()


def fhir_channel(base_url: str, mode: str = "process-message", mapping: str = "") -> dict:
    return {
        "care": f"""
[channel]
name = "care"
[source]
type = "http"
[[destination]]
name = "municipality"
type = "fhir"
base_url = "{base_url}"
mode = "{mode}"
mapping = "{mapping}"
headers = {{ X-Partner = "kanal" }}
{RETRY}
"""
    }


async def post(engine, body: bytes) -> None:
    url = f"http://127.0.0.1:{engine.api_port}/api/v1/channels/care/messages"
    async with api_client(engine) as client:
        assert (await client.post(url, content=body)).status_code == 202


def delivery(engine, message_id: int = 1) -> dict:
    with engine.database.connect() as conn:
        return message_detail(conn, message_id)["deliveries"][0]


async def test_an_ok_acknowledgement_makes_the_delivery_acknowledged(start_engine, municipality):
    engine = await start_engine(fhir_channel(municipality.base_url))
    await post(engine, CARE)
    # the Acknowledgement in the answer is the business receipt: no SENT in between
    await eventually(lambda: delivery_count(engine, "ACKNOWLEDGED") == 1)
    assert dict(municipality.received) == {HEADER_ID: 1}
    [sent] = municipality.messages
    assert sent == json.loads(CARE)
    [attempt] = delivery(engine)["attempt_log"]
    assert attempt["outcome"] == "ok" and "Acknowledgement ok" in attempt["detail"]


async def test_transient_error_is_retried_and_delivered_once(start_engine, municipality):
    municipality.faults = Faults(fail_first=2)
    engine = await start_engine(fhir_channel(municipality.base_url))
    await post(engine, CARE)
    await eventually(lambda: delivery_count(engine, "ACKNOWLEDGED") == 1)
    assert municipality.received[HEADER_ID] == 1 and municipality.duplicates == 0
    outcomes = [a["outcome"] for a in delivery(engine)["attempt_log"]]
    assert outcomes == ["transient", "transient", "ok"]
    assert "transient-error" in delivery(engine)["attempt_log"][0]["detail"]


async def test_a_down_mailbox_http_503_is_retried(start_engine, municipality):
    municipality.faults = Faults(down_for=0.3)
    engine = await start_engine(fhir_channel(municipality.base_url))
    await post(engine, CARE)
    await eventually(lambda: delivery_count(engine, "ACKNOWLEDGED") == 1)
    log = delivery(engine)["attempt_log"]
    assert log[0]["outcome"] == "transient" and "HTTP 503" in log[0]["detail"]
    assert municipality.received[HEADER_ID] == 1


async def test_fatal_error_is_dead_with_the_reason(start_engine, municipality):
    municipality.faults = Faults(reject_all=True)
    engine = await start_engine(fhir_channel(municipality.base_url))
    await post(engine, CARE)
    await eventually(lambda: delivery_count(engine, "DEAD") == 1)
    dead = delivery(engine)
    assert "fatal-error" in dead["last_error"] and "rejected the message" in dead["last_error"]
    assert [a["outcome"] for a in dead["attempt_log"]] == ["fatal"]
    assert not municipality.received


async def test_a_closed_port_is_unreachable_and_does_not_count(start_engine):
    engine = await start_engine(fhir_channel(f"http://127.0.0.1:{free_port()}/fhir"))
    await post(engine, CARE)
    await eventually(lambda: len(delivery(engine)["attempt_log"]) >= 1)
    first = delivery(engine)
    assert first["attempt_log"][0]["outcome"] == "unreachable" and first["attempts"] == 0


async def test_transaction_mode_posts_the_bundle_to_the_base(start_engine, municipality):
    bundle = {
        "resourceType": "Bundle",
        "id": "tx-kanal-1",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Patient", "name": [{"family": "Hansen"}]},
                "request": {"method": "POST", "url": "Patient"},
            }
        ],
    }
    engine = await start_engine(fhir_channel(municipality.base_url, "transaction"))
    await post(engine, json.dumps(bundle).encode())
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    assert municipality.received["tx-kanal-1"] == 1
    [patient] = municipality.store.search("Patient", {})
    assert patient["name"] == [{"family": "Hansen"}]


async def test_create_mode_creates_conditionally_through_fhirpy(start_engine, municipality):
    channel = mllp_in(
        "adt",
        f"""
[[destination]]
name = "patients"
type = "fhir"
base_url = "{municipality.base_url}"
mode = "create"
mapping = "adt-to-fhir-patient"
{RETRY}
""",
    )
    engine = await start_engine(channel)
    port = engine.listeners["adt"].port
    await send_all("127.0.0.1", port, [hl7("PAT-1"), hl7("PAT-2")])  # one patient, twice
    await eventually(lambda: delivery_count(engine, "SENT") == 2)
    [patient] = municipality.store.search("Patient", {})
    assert patient["identifier"][0]["value"] == "0101451234"
    assert "created Patient/" in delivery(engine)["attempt_log"][0]["detail"]

    municipality.faults = Faults(reject_all=True)  # 422: fatal
    await send_all("127.0.0.1", port, [hl7("PAT-3", cpr="0202501234")])
    await eventually(lambda: delivery_count(engine, "DEAD") == 1)
    assert "HTTP 422" in delivery(engine, 3)["last_error"]


def test_config_names_the_bad_mode(tmp_path):
    path = tmp_path / "care.toml"
    path.write_text(fhir_channel("http://x/fhir", mode="rest")["care"])
    with pytest.raises(ConfigError) as error:
        load_channel(path)
    assert "destination[0].mode" in str(error.value) and "process-message" in str(error.value)
