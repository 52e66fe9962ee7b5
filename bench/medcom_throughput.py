"""MedCom messages/s per family: what the engine does with each letter at receipt (parse,
metadata, validation), beside the bare minimum for that format in the same run:

- EDIFACT: parse (charset, binaries, pydifact, structure checks) + metadata, beside a bare
  segment split (decode and split on the terminator);
- OIOXML: hardened parse + metadata + XSD validation, beside a bare lxml parse;
- FHIR JSON and XML: parse + metadata + Bundle checks, beside json.loads / lxml parse;
- VANSEnvelope: unwrap + the payload's parse and metadata, beside a bare lxml parse;
- EDIFACT → OIOXML conversion (the medcom-edifact-to-oioxml mapping, output validated),
  beside the parse it starts from.

Inputs are MedCom's published examples (../shared/medcom) and our own envelope of one.
Prints a table and writes bench/results/medcom_throughput.json (with peak RSS) and .png.

    python bench/medcom_throughput.py [--seconds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from charts import MACHINE, bars
from lxml import etree
from results_file import header, write

from engine.formats import fhir
from engine.formats.envelope import wrap_vans
from engine.formats.sniff import parse_messages
from engine.formats.xml import SchemaCatalogue
from engine.mapping.loader import load_mapping
from engine.mapping.testing import convert

REPO = Path(__file__).resolve().parents[1]
MEDCOM = REPO.parent / "shared" / "medcom"
SCHEMAS = Path(os.environ.get("KANAL_MEDCOM_SCHEMAS") or MEDCOM / "xsd")


def rate(function: Callable[[bytes], Any], inputs: list[bytes], seconds: float) -> float:
    """Messages/s, cycling through the inputs (each a different letter)."""
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for raw in inputs:
            function(raw)
        count += len(inputs)
    return count / elapsed


def bare_split(raw: bytes) -> list[str]:
    return raw.decode("latin-1").replace("\r", "").replace("\n", "").split("'")


def bare_lxml(raw: bytes) -> etree._Element:
    return etree.fromstring(raw)


def engine_parse(raw: bytes) -> Any:
    parsed = parse_messages(raw)[0]
    if parsed.error is not None:
        raise SystemExit(f"bench input does not parse: {parsed.error}")
    return parsed


def oioxml_parse_and_validate(catalogue: SchemaCatalogue) -> Callable[[bytes], Any]:
    def run(raw: bytes) -> Any:
        parsed = engine_parse(raw)
        return catalogue.errors(parsed.parsed)

    return run


def fhir_parse_and_check(raw: bytes) -> Any:
    parsed = engine_parse(raw)
    return fhir.bundle_problems(parsed.parsed)


def families(seconds: float) -> list[dict[str, Any]]:
    edifact = [p.read_bytes() for p in sorted((MEDCOM / "pairs").glob("*.edi"))]
    oioxml = [
        p.read_bytes()
        for p in sorted((MEDCOM / "pairs").glob("*.xml"))
        if b"/2005/08/07/" in p.read_bytes()[:400]  # namespaces we have schemas for
    ]
    fhir_json = [p.read_bytes() for p in sorted((MEDCOM / "fhir" / "examples").rglob("*.json"))]
    fhir_xml = [p.read_bytes() for p in sorted((MEDCOM / "fhir" / "examples").rglob("*.xml"))]
    vans = [
        wrap_vans(raw, sender="5790000120420", receiver="5790000128686", name="MCM:XDIS01")
        for raw in oioxml[:5]
    ]
    catalogue = SchemaCatalogue(SCHEMAS)
    cases = [
        ("EDIFACT", edifact, engine_parse, "segment split", bare_split),
        ("OIOXML", oioxml, oioxml_parse_and_validate(catalogue), "lxml parse", bare_lxml),
        ("FHIR JSON", fhir_json, fhir_parse_and_check, "json.loads", json.loads),
        ("FHIR XML", fhir_xml, fhir_parse_and_check, "lxml parse", bare_lxml),
        ("VANSEnvelope", vans, engine_parse, "lxml parse", bare_lxml),
    ]
    to_xml = load_mapping(REPO / "mappings", "medcom-edifact-to-oioxml", SCHEMAS)
    convertible = [raw for raw in edifact if _converts(to_xml, raw)]
    cases.append(
        (
            "EDIFACT → OIOXML",
            convertible,
            lambda raw: convert(to_xml, raw),
            "EDIFACT parse",
            engine_parse,
        )
    )
    rows = []
    for family, inputs, work, baseline_name, baseline in cases:
        engine_rate = rate(work, inputs, seconds)
        baseline_rate = rate(baseline, inputs, seconds)
        rows.append(
            {
                "family": family,
                "inputs": len(inputs),
                "engine_per_s": round(engine_rate),
                "baseline": baseline_name,
                "baseline_per_s": round(baseline_rate),
                "cost": round(baseline_rate / engine_rate, 1),
            }
        )
        print(
            f"{family:<18}{len(inputs):>4} inputs {engine_rate:>10.0f}/s   "
            f"{baseline_name:<14}{baseline_rate:>10.0f}/s   "
            f"cost {baseline_rate / engine_rate:5.1f}x"
        )
    return rows


def _converts(mapping: Any, raw: bytes) -> bool:
    try:
        convert(mapping, raw)
    except Exception:  # a letter type the mapping cannot convert is left out, and counted
        return False
    return True


def chart(result: dict[str, Any], path: Path) -> None:
    """Per family: the bare baseline beside Kanal's receipt of the same letters."""

    def per_family(key: str) -> dict[str, float]:
        return {f"{r['family']}\n(vs {r['baseline']})": r[key] for r in result["rows"]}

    series = {"bare baseline": per_family("baseline_per_s"), "Kanal": per_family("engine_per_s")}
    title = f"MedCom messages/s per family at receipt, Kanal vs a bare parse ({MACHINE})"
    bars(path, title, "messages / s (log)", series, log=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    args = parser.parse_args()
    rows = families(args.seconds)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        **header("medcom_throughput"),
        "seconds_per_measurement": args.seconds,
        "peak_rss_mb": round(peak_mb),
        "rows": rows,
    }
    write(result, chart)
    print(f"peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
