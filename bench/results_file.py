"""Where the benchmarks write: bench/results/<name>.json and <name>.png, each result
headed by what was measured, when and on what machine; a load's figures summarised alike."""

from __future__ import annotations

import json
import os
import statistics
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


def summary(elapsed: float, latencies: list[float]) -> dict[str, float]:
    """A load's figures: count, seconds, messages/s and latency percentiles (ms)."""
    cuts = statistics.quantiles(latencies, n=1000)
    return {
        "messages": len(latencies),
        "seconds": round(elapsed, 3),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(cuts[499], 3),
        "p99_ms": round(cuts[989], 3),
        "p999_ms": round(cuts[998], 3),
    }


def write(result: dict[str, Any], chart: Callable[[dict[str, Any], Path], None]) -> None:
    """`result` (from `header`, plus figures) as JSON, and its chart as PNG."""
    RESULTS.mkdir(exist_ok=True)
    name = result["benchmark"]
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    chart(result, RESULTS / f"{name}.png")
    print(f"wrote {RESULTS / name}.json and .png")
