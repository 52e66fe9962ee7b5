"""`kanal demo` (what `make run` shows) tells its story end to end."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def test_demo_runs_and_reports_every_delivery(tmp_path):
    for folder in ("channels", "mappings", "fixtures"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    (tmp_path / "engine.toml").write_text('[api]\nlisten = "127.0.0.1:0"\n')

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine",
            "demo",
            "--config",
            str(tmp_path / "engine.toml"),
            "--outage",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": ""},
    )

    assert result.returncode == 0, result.stderr
    rows = {
        line.split("│")[1].strip(): line
        for line in result.stdout.splitlines()
        if line.startswith("│") and "-" in line.split("│")[1]
    }
    assert {"adt-from-epj", "lab-results", "referrals-in", "vans-inbox", "gp-receipts"} <= set(rows)
    assert "still pending" not in result.stdout
    assert "The EPJ simulator accepted 3 message(s), 0 duplicate(s)." in result.stdout
    assert "Everything sent about patient 120352-****" in result.stdout
    # the GP system took both lab reports and receipted them: ACKNOWLEDGED
    reports = sorted((tmp_path / "var" / "out" / "gp" / "done").glob("*-XRPT01.xml"))
    assert len(reports) == 2 and all(b"<StatisticalCode>XRPT01<" in r.read_bytes() for r in reports)
    # the municipality acknowledged both HospitalNotifications (FHIR messaging)
    assert "The municipality acknowledged 2 FHIR message(s), 0 duplicate(s)" in result.stdout
    assert "the GP system receipted 2 letter(s)" in result.stdout
    lab = rows["lab-results"].split("│")
    assert lab[5].strip() == "4" and lab[6].strip() == "2"  # delivered, acknowledged
    # the EDIFACT discharge letter: OIOXML for the municipality, a CTL03 for its sender
    [letter] = (tmp_path / "var" / "out" / "municipality").glob("*-XDIS01.xml")
    assert b"<StatisticalCode>XDIS01</StatisticalCode>" in letter.read_bytes()
    [receipt] = (tmp_path / "var" / "vans" / "receipts").glob("*.receipt.edi")
    assert b"+CTL03'" in receipt.read_bytes()
