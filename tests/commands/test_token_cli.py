"""`kanal token create|list|revoke`: what a person managing API access sees."""

from __future__ import annotations

import json

from conftest import write_config
from typer.testing import CliRunner

from engine.cli import app
from engine.config import load_engine_config
from engine.store.database import open_database
from engine.store.tokens import find_token

runner = CliRunner(env={"COLUMNS": "200"})


def kanal(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_list_tells_when_each_token_was_last_used(tmp_path):
    config = str(write_config(tmp_path, {}))
    lab = kanal("token", "create", "--role", "source", "--channel", "lab", "--name", "lab",
                "--config", config).stdout.strip().splitlines()[-1]  # fmt: skip
    kanal("token", "create", "--role", "auditor", "--name", "audit", "--config", config)
    table = kanal("token", "list", "--config", config).stdout
    assert "last used" in table and table.count("never") == 2

    store = open_database(load_engine_config(config).store_url)
    with store.begin() as conn:  # what the API does when the lab system posts
        assert find_token(conn, lab, used_at=1.8e9) is not None
    kanal("token", "revoke", "audit", "--config", config)
    listed = json.loads(kanal("token", "list", "--config", config, "--format", "json").stdout)
    by_name = {row["name"]: row for row in listed}
    assert by_name["lab"]["last_used_at"].startswith("2027-01-15T08:00")
    assert by_name["audit"]["last_used_at"] is None and by_name["audit"]["revoked_at"]
    assert lab not in json.dumps(listed) and lab not in table  # shown once, at creation
