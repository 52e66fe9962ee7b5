"""Configuration: strict models, clear errors naming file and key, ${ENV} substitution."""

from __future__ import annotations

import textwrap

import pytest

from engine.config import ConfigError, load_channel, load_channels, load_engine_config

GOOD = """
    [channel]
    name = "adt"
    [source]
    type = "mllp"
    port = 2575
    [[destination]]
    name = "epj"
    type = "mllp"
    port = 2576
    retry = { max_attempts = 5, backoff = "fixed", initial = "500ms", max = "10m" }
"""


def write(tmp_path, name, body):
    path = tmp_path / f"{name}.toml"
    path.write_text(textwrap.dedent(body))
    return path


def test_good_channel_loads_with_durations_in_seconds(tmp_path):
    channel = load_channel(write(tmp_path, "adt", GOOD))
    retry = channel.destination[0].retry
    assert (retry.max_attempts, retry.backoff, retry.initial, retry.max) == (5, "fixed", 0.5, 600)


def test_unknown_key_is_named_with_the_file(tmp_path):
    path = write(tmp_path, "adt", GOOD.replace("port = 2575", "port = 2575\nprot = 1"))
    with pytest.raises(ConfigError) as error:
        load_channel(path)
    assert str(path) in str(error.value)
    assert "source.prot: unknown key" in str(error.value)


def test_wrong_type_says_what_is_allowed(tmp_path):
    path = write(
        tmp_path, "adt", GOOD.replace('type = "mllp"\n    port = 2575', 'type = "carrier-pigeon"')
    )
    with pytest.raises(ConfigError) as error:
        load_channel(path)
    assert "source" in str(error.value)
    assert "source.type: 'carrier-pigeon' is not one of 'mllp', 'http', 'directory'" in str(
        error.value
    )


def test_bad_duration_is_explained(tmp_path):
    path = write(tmp_path, "adt", GOOD.replace('"500ms"', '"half a second"'))
    with pytest.raises(ConfigError, match=r"destination\[0\]\.retry\.initial.*not a duration"):
        load_channel(path)


def test_channel_name_must_match_file_name(tmp_path):
    with pytest.raises(ConfigError, match="must match the file name"):
        load_channel(write(tmp_path, "other", GOOD))


def test_duplicate_destination_names_rejected(tmp_path):
    body = GOOD + '\n[[destination]]\nname = "epj"\ntype = "directory"\npath = "x"\n'
    with pytest.raises(ConfigError, match="repeated: \\['epj'\\]"):
        load_channel(write(tmp_path, "adt", body))


def test_two_channels_on_one_port_rejected(tmp_path):
    write(tmp_path, "adt", GOOD)
    write(tmp_path, "lab", GOOD.replace('name = "adt"', 'name = "lab"'))
    with pytest.raises(ConfigError, match="both listen on 2575"):
        load_channels(tmp_path)


def test_environment_substitution(tmp_path, monkeypatch):
    monkeypatch.setenv("EPJ_PORT", "3000")
    channel = load_channel(
        write(
            tmp_path,
            "adt",
            GOOD.replace("port = 2576", 'host = "${EPJ_HOST:-10.0.0.1}"\n    port = "${EPJ_PORT}"'),
        )
    )
    assert channel.destination[0].port == 3000
    assert channel.destination[0].host == "10.0.0.1"


def test_missing_environment_variable_is_named(tmp_path):
    path = write(tmp_path, "adt", GOOD.replace("port = 2576", 'port = "${NOT_SET_ANYWHERE}"'))
    with pytest.raises(ConfigError, match=r"NOT_SET_ANYWHERE\} is not set"):
        load_channel(path)


def test_engine_defaults_and_relative_paths(tmp_path):
    config = load_engine_config(tmp_path / "engine.toml")  # missing file: all defaults
    assert config.channels_dir == tmp_path / "channels"
    assert config.store_url == f"sqlite:///{(tmp_path / 'var' / 'kanal.db').resolve()}"


def test_engine_unknown_section_rejected(tmp_path):
    path = write(tmp_path, "engine", "[stroe]\nurl = 'x'\n")
    with pytest.raises(ConfigError, match="stroe: unknown key"):
        load_engine_config(path)


def test_channel_paths_resolve_against_the_engine_folder(tmp_path):
    body = GOOD.replace('type = "mllp"\n    port = 2576', 'type = "directory"\n    path = "out"')
    write(tmp_path, "adt", body)
    [channel] = load_channels(tmp_path, base_dir=tmp_path / "site")
    assert channel.destination[0].path == str(tmp_path / "site" / "out")


def test_a_vans_inbox_writes_receipts_beside_the_engine_too(tmp_path):
    body = GOOD.replace(
        'type = "mllp"\n    port = 2575',
        'type = "directory"\n    path = "vans/in"\n    receipts = "vans/receipts"',
        1,
    )
    write(tmp_path, "adt", body)
    [channel] = load_channels(tmp_path, base_dir=tmp_path / "site")
    assert channel.source.receipts == str(tmp_path / "site" / "vans" / "receipts")


def test_an_api_address_without_a_port_is_refused_at_load(tmp_path):
    path = tmp_path / "engine.toml"
    path.write_text('[api]\nlisten = "localhost"\n')
    with pytest.raises(ConfigError, match=r"api\.listen.*HOST:PORT"):
        load_engine_config(path)
