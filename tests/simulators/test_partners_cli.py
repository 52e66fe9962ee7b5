"""`kanal partners run`: all four partners start, say where they listen, stop on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import zeep
from conftest import REPO


def test_partners_run_prints_where_each_listens_and_stops_on_ctrl_c(tmp_path):
    command = [
        *(sys.executable, "-m", "engine.cli", "partners", "run"),
        *("--epj-port", "0", "--municipality-port", "0", "--rkkp-port", "0"),
        *("--gp-inbox", str(tmp_path / "in"), "--gp-receipts", str(tmp_path / "out")),
        *("--reject-all", "--faulty", "rkkp"),
    ]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"}
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(5)]
        names = [line.split()[0] for line in lines[:4]]
        assert names == ["epj", "municipality", "rkkp", "gp"]
        [wsdl] = re.findall(r"http://\S+\?wsdl", lines[2])
        client = zeep.Client(wsdl)  # the RKKP listens and publishes its WSDL
        try:
            client.service.SubmitQualityReport("<Report><ReportId>1</ReportId></Report>")
            raise AssertionError("--reject-all --faulty rkkp should refuse")
        except zeep.exceptions.Fault as fault:
            assert fault.code.endswith("Client")
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "rkkp          received 0, duplicates 0" in rest
