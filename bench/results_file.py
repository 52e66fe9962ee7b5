"""Where the benchmarks write: bench/results/<name>.json and <name>.png, each result
headed by what was measured, when and on what machine."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def header(benchmark: str) -> dict[str, Any]:
    return {
        "benchmark": benchmark,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }


def write(result: dict[str, Any], chart: Callable[[dict[str, Any], Path], None]) -> None:
    """`result` (from `header`, plus figures) as JSON, and its chart as PNG."""
    RESULTS.mkdir(exist_ok=True)
    name = result["benchmark"]
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    chart(result, RESULTS / f"{name}.png")
    print(f"wrote {RESULTS / name}.json and .png")
