"""MedCom mappings in a running engine, over real sockets: what partners actually receive,
and what a sender and an operator see when a mapping cannot map a message."""

from __future__ import annotations

import json

from conftest import (
    FIXTURES,
    api_client,
    eventually,
    hl7,
    message_rows,
    mllp_in,
    to_directory,
    to_mllp,
)
from lxml import etree
from typer.testing import CliRunner

from engine.cli import app
from engine.formats.hl7v2 import parse
from engine.receipts.hl7_ack import parse_ack
from engine.simulators.mllp_client import send_all

ORU_LOCAL = (FIXTURES / "hl7v2" / "oru_r01_local_codes.hl7").read_bytes()
XREF01 = (FIXTURES / "oioxml" / "xref01_referral.xml").read_bytes()
XRPT01_NS = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2007/02/01/"


async def test_lab_results_reach_the_gp_as_xrpt01_and_unmapped_codes_get_a_clear_ae(
    start_engine, tmp_path
):
    engine = await start_engine(
        mllp_in("lab", to_directory("gp", tmp_path / "gp", mapping='"oru-to-xrpt01"'))
    )
    port = engine.listeners["lab"].port
    unknown = ORU_LOCAL.replace(b"|HB^", b"|HBA1C^", 1).replace(b"LAB-R01-", b"LAB-R99-", 1)
    good_ack, bad_ack = await send_all("127.0.0.1", port, [ORU_LOCAL, unknown])

    assert parse_ack(good_ack)[0] == "CA"  # MSH-15 = AL: enhanced-mode commit ACKs
    code, _, text = parse_ack(bad_ack)
    assert code == "CE"
    assert "'HBA1C'" in text and "npu.csv" in text and "rule 'analysis-code'" in text

    await eventually(lambda: len(list((tmp_path / "gp").glob("*"))) == 1)
    [report] = (tmp_path / "gp").glob("*")
    root = etree.fromstring(report.read_bytes())
    codes = root.xpath("//m:AnalysisCode/text()", namespaces={"m": XRPT01_NS})
    assert codes and all(c.startswith("NPU") for c in codes)

    ok, error = sorted(message_rows(engine), key=lambda r: r.status != "ROUTED")
    assert (ok.status, error.status) == ("ROUTED", "ERROR")
    shown = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["messages", "show", str(error.id), "--config", str(tmp_path / "engine.toml")]
    )
    assert "ERROR" in shown.stdout and "HBA1C" in shown.stdout and "npu.csv" in shown.stdout


async def test_a_gp_referral_posted_over_http_reaches_the_epj_as_ref_i12(start_engine, epj):
    engine = await start_engine(
        {
            "referrals": '[channel]\nname = "referrals"\n[source]\ntype = "http"\n'
            + to_mllp("epj", epj.port, mapping='"xref01-to-ref-i12"')
        }
    )
    url = f"http://127.0.0.1:{engine.api_port}/api/v1/channels/referrals/messages"
    async with api_client(engine) as client:
        reply = await client.post(url, content=XREF01)
    assert reply.status_code == 202, reply.text

    await epj.wait_for(1)
    [delivered] = epj.messages
    message = parse(delivered)
    assert message.get("MSH-9") == "REF^I12^REF_I12"
    assert message.get("PID-3.1") == "1203521234"
    assert message.get("PID-5.2") == "Jens Peter"  # Latin-1 in, UTF-8 out, names intact
    [row] = message_rows(engine)
    assert (row.type, row.cpr, row.status) == ("XREF01", "1203521234", "ROUTED")


async def test_an_admission_becomes_a_hospital_notification_and_updates_are_not_sent(
    start_engine, tmp_path
):
    engine = await start_engine(
        mllp_in(
            "adt",
            to_directory(
                "municipality",
                tmp_path / "out",
                mapping='"adt-to-hospitalnotification"',
                when="\"msg.type in ('ADT^A01', 'ADT^A03')\"",
            ),
        )
    )
    admit = (FIXTURES / "hl7v2" / "adt_a01_admit.hl7").read_bytes()
    acks = await send_all(
        "127.0.0.1", engine.listeners["adt"].port, [admit, hl7("UPD-1", msg_type="ADT^A08")]
    )
    assert [parse_ack(a)[0] for a in acks] == ["CA", "AA"]  # the fixture asks for CA
    await eventually(lambda: len(list((tmp_path / "out").glob("*"))) == 1)
    [notification] = (tmp_path / "out").glob("*")
    bundle = json.loads(notification.read_bytes())
    header = bundle["entry"][0]["resource"]
    assert header["eventCoding"]["code"] == "hospital-notification-message"
    statuses = {r.control_id: r.status for r in message_rows(engine)}
    assert statuses == {"RHH-A01-000001": "ROUTED", "UPD-1": "FILTERED"}
