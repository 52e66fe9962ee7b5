"""The CLI a person uses: channels, inspect, send, messages search and show."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from conftest import (
    FIXTURES,
    SHARED,
    api_token,
    eventually,
    message_rows,
    mllp_in,
    to_directory,
    write_config,
)
from typer.testing import CliRunner

from engine.cli import app
from engine.simulators.mllp_client import send_all

runner = CliRunner(env={"COLUMNS": "200"})
ADMIT = FIXTURES / "hl7v2" / "adt_a01_admit.hl7"
LAB = FIXTURES / "hl7v2" / "oru_r01_lab.hl7"

CHANNELS = mllp_in("adt", to_directory("archive", "out"))


def kanal(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_channels_list_and_validate(tmp_path):
    config = str(write_config(tmp_path, CHANNELS))
    listed = kanal("channels", "list", "--config", config, "--format", "json")
    assert json.loads(listed.stdout)[0]["destinations"] == ["archive (directory)"]
    assert kanal("channels", "validate", "--config", config).exit_code == 0


def test_validate_reports_a_missing_mapping(tmp_path):
    config = str(
        write_config(
            tmp_path,
            {
                "adt": CHANNELS["adt"].replace(
                    'path = "out"', 'path = "out"\n    mapping = "does-not-exist"'
                )
            },
        )
    )
    result = runner.invoke(app, ["channels", "validate", "--config", config])
    assert result.exit_code == 2
    assert "mapping 'does-not-exist'" in result.stderr


def test_inspect_prints_metadata_and_refuses_garbage(tmp_path):
    result = kanal("inspect", str(ADMIT))
    info = json.loads(result.stdout)
    assert info["valid"] is True
    assert info["metadata"]["type"] == "ADT^A01"
    assert info["metadata"]["cpr"] and len(info["metadata"]["cpr"]) == 10
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("hello")
    refused = runner.invoke(app, ["inspect", str(garbage)])
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["valid"] is False


async def test_search_and_show(start_engine, tmp_path):
    engine = await start_engine(CHANNELS)
    await send_all(
        "127.0.0.1", engine.listeners["adt"].port, [ADMIT.read_bytes(), LAB.read_bytes()]
    )
    await eventually(
        lambda: (
            all(r.status == "ROUTED" for r in message_rows(engine))
            and len(message_rows(engine)) == 2
        )
    )
    config = str(tmp_path / "engine.toml")
    cpr = message_rows(engine)[0].cpr

    found = json.loads(
        kanal(
            "messages", "search", "--config", config, "--type", "ADT^A01", "--format", "json"
        ).stdout
    )
    assert [m["type"] for m in found] == ["ADT^A01"]
    assert found[0]["cpr"] == f"{cpr[:6]}-****"  # masked unless revealed
    by_cpr = json.loads(
        kanal(
            "messages",
            "search",
            "--config",
            config,
            "--cpr",
            f"{cpr[:6]}-{cpr[6:]}",
            "--reveal",
            "--reason",
            "patient called",
            "--format",
            "json",
        ).stdout
    )
    assert {m["cpr"] for m in by_cpr} == {cpr}
    refused = runner.invoke(app, ["messages", "search", "--config", config, "--reveal"])
    assert refused.exit_code == 2 and "--reveal needs --reason" in refused.stderr
    with engine.database.connect() as conn:
        events = conn.exec_driver_sql(
            "SELECT action, reason FROM audit_events WHERE action IN ('SEARCH', 'REVEAL')"
        ).all()
    assert ("REVEAL", "patient called") in [tuple(e) for e in events]
    assert any(action == "SEARCH" for action, _ in events)
    assert json.loads(
        kanal(
            "messages",
            "search",
            "--config",
            config,
            "--since",
            "1h",
            "--status",
            "routed",
            "--format",
            "json",
        ).stdout
    )
    assert (
        json.loads(
            kanal(
                "messages", "search", "--config", config, "--until", "1h", "--format", "json"
            ).stdout
        )
        == []
    )

    table = kanal("messages", "search", "--config", config)
    assert "ADT^A01" in table.stdout and "2 message(s)" in table.stdout

    message_id = str(found[0]["id"])
    await eventually(
        lambda: "SENT" in kanal("messages", "show", message_id, "--config", config).stdout
    )
    shown = json.loads(
        kanal("messages", "show", message_id, "--config", config, "--format", "json").stdout
    )
    assert "contents" not in shown and [s["stage"] for s in shown["stages"]] == ["raw"]
    assert shown["cpr"] == f"{cpr[:6]}-****"
    assert shown["deliveries"][0]["attempt_log"][0]["outcome"] == "ok"
    trail = [e["action"] for e in shown["audit"]]
    assert [a for a in trail if a != "READ"] == ["RECEIVED", "ROUTED", "SENT"]
    assert "READ" in trail  # the shows before this one are on the record
    refused = runner.invoke(app, ["messages", "show", message_id, "--config", config, "--reveal"])
    assert refused.exit_code != 0 and "--reason" in refused.stderr
    revealed = json.loads(
        kanal(
            "messages",
            "show",
            message_id,
            "--config",
            config,
            "--format",
            "json",
            "--reveal",
            "--reason",
            "ticket 7",
        ).stdout
    )
    assert revealed["contents"][0]["data"].startswith("MSH|") and revealed["cpr"] == cpr
    again = kanal("messages", "show", message_id, "--config", config, "--format", "json")
    [event] = [e for e in json.loads(again.stdout)["audit"] if e["action"] == "REVEAL"]
    assert event["actor"].startswith("cli:") and event["reason"] == "ticket 7"
    missing = runner.invoke(app, ["messages", "show", "999", "--config", config])
    assert missing.exit_code == 1 and "no message with id 999" in missing.stderr


def test_inspect_strict_uses_hl7apy(tmp_path):
    for fixture in sorted((FIXTURES / "hl7v2").glob("*.hl7")):
        result = kanal("inspect", "--strict", str(fixture))
        assert json.loads(result.stdout)["strict"] == {"valid": True, "errors": []}, fixture
    bad = tmp_path / "bad-date.hl7"
    bad.write_bytes(ADMIT.read_bytes().replace(b"|19520312|", b"|not-a-date|"))
    refused = runner.invoke(app, ["inspect", "--strict", str(bad)])
    strict = json.loads(refused.stdout)["strict"]
    assert refused.exit_code == 1
    assert strict["valid"] is False and "not-a-date" in strict["errors"][0]


async def test_send_posts_files_and_prints_ids(start_engine, tmp_path):
    engine = await start_engine(CHANNELS)
    config = str(tmp_path / "engine.toml")
    url = f"http://127.0.0.1:{engine.api_port}"
    token = api_token(engine, "source")
    garbage = tmp_path / "garbage.hl7"
    garbage.write_text("not HL7")

    # The CLI is synchronous: run it off the event loop the engine lives on.
    sent = await asyncio.to_thread(
        kanal, "send", str(ADMIT), str(LAB), "--channel", "adt", "-c", config, "--url", url,
        "--token", token,
    )  # fmt: skip
    lines = [line.split("\t") for line in sent.stdout.splitlines()]
    assert [(Path(f).name, state) for f, _, state in lines] == [
        ("adt_a01_admit.hl7", "RECEIVED"),
        ("oru_r01_lab.hl7", "RECEIVED"),
    ]
    assert [int(i) for _, i, _ in lines] == [r.id for r in message_rows(engine)]

    failed = await asyncio.to_thread(
        runner.invoke,
        app,
        ["send", str(garbage), "--channel", "adt", "-c", config, "--url", url, "--token", token],
    )
    assert failed.exit_code == 1 and "ERROR: unrecognised format" in failed.stdout
    unknown = await asyncio.to_thread(
        runner.invoke,
        app,
        ["send", str(ADMIT), "--channel", "nope", "-c", config, "--url", url, "--token", token],
    )
    assert unknown.exit_code == 2 and "no channel named 'nope'" in unknown.stderr
    elsewhere = await asyncio.to_thread(
        runner.invoke,
        app,
        ["send", str(ADMIT), "--channel", "adt", "-c", config, "--url", url, "--token", "kanal_x"],
    )
    assert elsewhere.exit_code == 2 and "unknown or revoked token" in elsewhere.stderr


def test_inspect_validates_oioxml_against_the_configured_schemas(tmp_path):
    config = tmp_path / "engine.toml"
    config.write_text(f'[standards.medcom]\nschema_dir = "{SHARED / "medcom" / "xsd"}"\n')
    quirky = SHARED / "medcom" / "xml" / "conversion_service_oioxml_fhir"
    broken = runner.invoke(
        app, ["inspect", str(quirky / "Flow1-XDIS91_Ex_to_FHIR.xml"), "--config", str(config)]
    )
    assert broken.exit_code == 1
    report = json.loads(broken.stdout)
    assert report["metadata"]["type"] == "XDIS91"
    assert report["schema"]["valid"] is False and "br" in report["schema"]["errors"][0]
    fine = runner.invoke(
        app, ["inspect", str(FIXTURES / "oioxml" / "xdis01_discharge.xml"), "--config", str(config)]
    )
    assert fine.exit_code == 0 and json.loads(fine.stdout)["schema"] == {
        "valid": True,
        "errors": [],
    }


def test_run_refuses_a_listen_address_without_a_port(tmp_path):
    config = str(write_config(tmp_path, CHANNELS))
    result = runner.invoke(app, ["run", "--config", config, "--listen", "localhost"])
    assert result.exit_code == 2 and "--listen takes HOST:PORT" in result.stderr
