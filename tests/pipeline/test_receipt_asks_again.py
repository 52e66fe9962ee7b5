"""A partner's receipt that asks for the letter again (FHIR Acknowledgement
transient-error) queues the delivery at once and says so to the workers: on the rabbitmq
backend a notice, not the sweep a minute later. Counted in kanal_deliveries_settled_total."""

from __future__ import annotations

import asyncio
import datetime
import json

import pytest
from conftest import FIXTURES, delivery_count, eventually
from test_reliable_messaging import channels, drop, settled

from engine.receipts.medcom.fhir_acknowledgement import build_acknowledgement
from engine.store.queries import message_detail

LETTER = FIXTURES / "fhir" / "carecommunication.json"
WHEN = datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize("backend", ["sql", "rabbitmq"])
async def test_a_receipt_asking_again_sends_the_letter_again_at_once(
    start_engine, tmp_path, backend, request
):
    queue = ""
    if backend == "rabbitmq":
        url = request.getfixturevalue("rabbitmq").url
        queue = f'[queue]\nbackend = "rabbitmq"\nurl = "{url}"\npoll = "100ms"\n'
    engine = await start_engine(channels(tmp_path, "1h", "json"), queue)
    drop(tmp_path / "in", "letter.json", LETTER.read_bytes())
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    await asyncio.sleep(1)  # the first send's notice is acked: none is left to bring it back
    sent = json.loads((tmp_path / "gp" / "letter.json").read_bytes())
    answer = build_acknowledgement(
        sent, "transient-error", timestamp=WHEN, issue="MSG_Mailbox_Out_Of_Operation"
    )
    drop(tmp_path / "receipts", "ack.json", json.dumps(answer).encode())

    def attempts() -> list[str]:
        with engine.database.connect() as conn:
            [delivery] = message_detail(conn, 1)["deliveries"]
        return [a["outcome"] for a in delivery["attempt_log"]]

    await eventually(lambda: attempts() == ["ok", "ok"], timeout=10)  # not after an hour
    assert settled(engine, "RETRYING") == 1
