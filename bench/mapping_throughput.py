"""Mapped messages/s for each declarative mapping beside a hand-written Python function
doing the same transformation, in the same run (the ratio is the figure: the declarative
form should cost at most 3x the hand-written one).

    python bench/mapping_throughput.py [--seconds 2] [--only NAME]

The hand-written functions are in bench/hand_written/, one module per mapping. Both sides
are timed on the same parsed message, transformation only; the output validation every
mapped message then gets (XSD, FHIR R4 structure, HL7 header), which a hand-written
integration would need as well, is timed on its own as "validated/s". Prints a table and
writes bench/results/mapping_throughput.json and .png.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import pkgutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import hand_written
from charts import MACHINE, bars
from results_file import header, write

from engine.formats.sniff import parse_messages
from engine.mapping.compare import differences
from engine.mapping.loader import load_mapping
from engine.mapping.rules import RulesMapping
from engine.pipeline.items import Incoming
from engine.pipeline.view import MessageView

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = Path(os.environ.get("KANAL_MEDCOM_SCHEMAS") or REPO.parent / "shared/medcom/xsd")


def view_of(raw: bytes) -> MessageView:
    parsed = parse_messages(raw)[0]
    return MessageView(Incoming("bench", raw, parsed.meta, "bench", 0.0, None, parsed.parsed))


def rate(function: Callable[[MessageView], bytes], msg: MessageView, seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(20):
            function(msg)
        count += 20
    return count / elapsed


def unvalidated(mapping: RulesMapping) -> RulesMapping:
    spec = mapping.spec.model_copy(update={"validate_output": False})
    output = dataclasses.replace(mapping.output, spec=spec)
    return dataclasses.replace(mapping, spec=spec, output=output)


def measure(name: str, seconds: float) -> dict[str, object]:
    module = importlib.import_module(f"hand_written.{name.replace('-', '_')}")
    mapping = load_mapping(REPO / "mappings", name, SCHEMAS if SCHEMAS.is_dir() else None)
    assert isinstance(mapping, RulesMapping)
    msg = view_of((REPO / module.FIXTURE).read_bytes())
    by_hand: Callable[[MessageView], bytes] = module.by_hand
    plain = unvalidated(mapping)
    disagreement = differences(mapping.target, by_hand(msg), mapping.apply(msg), [])
    assert not disagreement, f"{name}: the two do not agree:\n" + "\n".join(disagreement[:20])
    hand = rate(by_hand, msg, seconds)
    mapped = rate(plain.apply, msg, seconds)
    validated = rate(mapping.apply, msg, seconds)
    return {
        "mapping": name,
        "input": module.FIXTURE,
        "hand_written_per_second": round(hand),
        "declarative_per_second": round(mapped),
        "cost_ratio": round(hand / mapped, 2),
        "declarative_validated_per_second": round(validated),
    }


def chart(result: dict[str, Any], path: Path) -> None:
    """Per mapping: by hand, declarative and declarative with its output validated."""
    columns = {
        "by hand": "hand_written_per_second",
        "declarative": "declarative_per_second",
        "declarative, output validated": "declarative_validated_per_second",
    }
    series = {
        name: {row["mapping"]: row[key] for row in result["results"]}
        for name, key in columns.items()
    }
    title = (
        "Mapped messages/s per mapping, hand-written vs declarative "
        f"(Python {result['machine']['python']}, {MACHINE})"
    )
    bars(path, title, "messages / s (log)", series, log=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--only", help="one mapping")
    args = parser.parse_args()
    names = [m.name.replace("_", "-") for m in pkgutil.iter_modules(hand_written.__path__)]
    rows = [measure(name, args.seconds) for name in sorted(names) if args.only in (None, name)]
    result = {
        **header("mapping_throughput"),
        "results": rows,
    }
    write(result, chart)
    print(f"{'mapping':30}{'by hand/s':>11}{'declarative/s':>15}{'cost x':>8}{'validated/s':>13}")
    for row in rows:
        print(
            f"{row['mapping']:30}{row['hand_written_per_second']:>11}"
            f"{row['declarative_per_second']:>15}{row['cost_ratio']:>8}"
            f"{row['declarative_validated_per_second']:>13}"
        )


if __name__ == "__main__":
    main()
