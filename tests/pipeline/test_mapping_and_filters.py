"""Filters and the minimal template mapping, through a running engine."""

from __future__ import annotations

import pytest
from conftest import eventually, hl7, message_rows, mllp_in, to_directory, to_mllp

from engine.config import ConfigError
from engine.mapping.hl7_edit import with_fields
from engine.pipeline.expressions import compile_filter
from engine.receipts.hl7_ack import parse_ack
from engine.simulators.mllp_client import send_all


def test_with_fields_replaces_whole_fields_and_pads():
    text = "MSH|^~\\&|EPJ|RHH|KANAL|KANAL|20250101||ADT^A01|1|P|2.5\rPID|1||123\r"
    edited = with_fields(text, {"MSH-5": "EPJ", "PID-8": "M"})
    msh, pid = edited.rstrip("\r").split("\r")
    assert msh.split("|")[4] == "EPJ"
    assert pid == "PID|1||123|||||M"
    with pytest.raises(ValueError, match="no ZZZ segment"):
        with_fields(text, {"ZZZ-1": "x"})


def test_filter_syntax_errors_name_the_place():
    with pytest.raises(ConfigError, match=r"channel 'adt' filter\.when"):
        compile_filter("msg.type ==", "channel 'adt' filter.when")


async def test_filters_and_mapping_end_to_end(start_engine, epj, tmp_path):
    engine = await start_engine(
        mllp_in(
            "lab",
            to_mllp("epj", epj.port, mapping='"hl7-to-epj"', when="\"msg.get('PV1-2') == 'I'\""),
            to_directory("copy", tmp_path / "copy"),
            extra="[filter]\nwhen = \"msg.type != 'ADT^A08'\"",
        )
    )
    port = engine.listeners["lab"].port
    await send_all(
        "127.0.0.1",
        port,
        [
            hl7("IN-1"),  # inpatient: both destinations
            hl7("UPD-1", msg_type="ADT^A08"),  # channel filter drops it
        ],
    )
    await epj.wait_for(1)
    [delivered] = epj.messages
    msh = delivered.split(b"\r")[0].split(b"|")
    assert (msh[2], msh[4], msh[5]) == (b"KANAL", b"EPJ", b"RHH")  # the mapping ran
    await eventually(lambda: len(list((tmp_path / "copy").glob("*"))) == 1)
    expected = {"IN-1": "ROUTED", "UPD-1": "FILTERED"}
    await eventually(lambda: {r.control_id: r.status for r in message_rows(engine)} == expected)


async def test_failing_mapping_marks_the_message_error(start_engine, tmp_path):
    mappings = tmp_path / "mappings" / "broken"
    engine_toml = (
        f'[api]\nlisten = "127.0.0.1:0"\n[engine]\nmappings_dir = "{tmp_path / "mappings"}"\n'
    )
    mappings.mkdir(parents=True)
    (mappings / "mapping.toml").write_text('[mapping]\nsource = "hl7v2"\ntarget = "hl7v2"\n')
    (mappings / "template.j2").write_text("{{ msg.no_such_field }}\n")
    engine = await start_engine(
        mllp_in("adt", to_directory("out", tmp_path / "out", mapping='"broken"')), engine_toml
    )
    [ack] = await send_all("127.0.0.1", engine.listeners["adt"].port, [hl7("MAP-1")])
    code, control_id, text = parse_ack(ack)
    assert (code, control_id) == ("AE", "MAP-1")
    assert "mapping 'broken'" in text
    [row] = message_rows(engine)
    assert row.status == "ERROR" and "mapping 'broken'" in row.error
