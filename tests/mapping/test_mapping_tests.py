"""`kanal mappings test` and `kanal convert`: every mapping carries its own tests."""

from __future__ import annotations

import shutil

from conftest import FIXTURES, REPO
from typer.testing import CliRunner

from engine.cli import app
from engine.mapping.compare import hl7_differences, json_differences

runner = CliRunner(env={"COLUMNS": "200"})


def test_every_mapping_in_the_repository_passes_its_tests():
    result = runner.invoke(app, ["mappings", "test", "--config", str(REPO / "engine.toml")])
    assert result.exit_code == 0, result.stdout
    assert "PASS hl7-to-epj / lab-result" in result.stdout
    assert "FAIL" not in result.stdout


def copy_mapping(tmp_path):
    shutil.copytree(REPO / "mappings" / "hl7-to-epj", tmp_path / "mappings" / "hl7-to-epj")
    config = tmp_path / "engine.toml"
    config.write_text("")
    return config, tmp_path / "mappings" / "hl7-to-epj"


def test_a_wrong_expectation_fails_naming_the_field(tmp_path):
    config, folder = copy_mapping(tmp_path)
    expected = folder / "tests" / "lab-result.expected.hl7"
    expected.write_bytes(expected.read_bytes().replace(b"|EPJ|RHH|", b"|GP|1234|", 1))

    result = runner.invoke(app, ["mappings", "test", "hl7-to-epj", "--config", str(config)])

    assert result.exit_code == 1
    assert "FAIL hl7-to-epj / lab-result" in result.stdout
    assert "MSH-5: expected 'GP', got 'EPJ'" in result.stdout
    assert "MSH-6: expected '1234', got 'RHH'" in result.stdout
    assert "PASS hl7-to-epj / referral" in result.stdout


def test_a_mapping_without_tests_fails(tmp_path):
    config, folder = copy_mapping(tmp_path)
    shutil.rmtree(folder / "tests")
    result = runner.invoke(app, ["mappings", "test", "--config", str(config)])
    assert result.exit_code == 1
    assert "no tests" in result.stdout


def test_convert_prints_the_output_and_refuses_unreadable_input(tmp_path):
    config = str(REPO / "engine.toml")
    result = runner.invoke(
        app,
        [
            "convert",
            str(FIXTURES / "hl7v2" / "adt_a01_admit.hl7"),
            "--mapping",
            "hl7-to-epj",
            "--config",
            config,
        ],
    )
    assert result.exit_code == 0
    assert result.stdout.startswith("MSH|^~\\&|KANAL|RHH|EPJ|RHH|")
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("hello")
    refused = runner.invoke(
        app, ["convert", str(garbage), "--mapping", "hl7-to-epj", "--config", config]
    )
    assert refused.exit_code == 1
    assert "the input cannot be read: unrecognised format" in refused.stderr


def test_hl7_comparison_ignores_line_endings_and_trailing_empty_fields():
    expected = b"MSH|^~\\&|A|B|||20250101||ADT^A01|1|P|2.5\rPID|1||123||Hansen\r"
    actual = b"MSH|^~\\&|A|B|||20250102||ADT^A01|1|P|2.5|||\nPID|1||123||Jensen\n"
    assert hl7_differences(expected, actual, {"MSH-7"}) == [
        "PID-5: expected 'Hansen', got 'Jensen'"
    ]
    assert hl7_differences(expected, expected + b"NTE|1\r", set())[0].startswith("segments:")


def test_json_comparison_is_structural():
    assert json_differences(b'{"a": 1, "b": [1, 2]}', b'{"b": [1, 2], "a": 1}') == []
    assert json_differences(b'{"a": 1}', b'{"a": 2}')
    assert json_differences(b'{"a": 1}', b"not json")[0].startswith("output is not JSON")
