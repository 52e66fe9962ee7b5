"""Mapped messages/s for each declarative mapping beside a hand-written Python function
doing the same transformation, in the same run (the ratio is the figure: the declarative
form should cost at most 3x the hand-written one).

    python bench/mapping_throughput.py [--seconds 2]

Prints a table and writes bench/results/mapping_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.formats.hl7v2 import HL7Message
from engine.formats.sniff import parse_messages
from engine.mapping.filters import hl7_to_fhir_date
from engine.mapping.hl7_edit import hl7_lines
from engine.mapping.loader import load_mapping
from engine.pipeline.items import Incoming
from engine.pipeline.view import MessageView

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
SEX = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}


def patient_by_hand(msg: MessageView) -> bytes:
    """What mappings/adt-to-fhir-patient does, written directly in Python."""
    hl7: HL7Message = msg.parsed
    sex = hl7.get("PID-8")
    if sex and sex not in SEX:
        raise ValueError(f"code {sex!r} is not mapped")
    patient: dict[str, object] = {"resourceType": "Patient"}
    if msg.cpr:
        patient["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"kanal:patient|{msg.cpr}"))
        patient["identifier"] = [{"system": "urn:oid:1.2.208.176.1.2", "value": msg.cpr}]
    name: dict[str, object] = {"family": hl7.get("PID-5.1")}
    if hl7.get("PID-5.2"):
        name["given"] = [hl7.get("PID-5.2")]
    patient["name"] = [name]
    if sex:
        patient["gender"] = SEX[sex]
    if hl7.get("PID-7"):
        patient["birthDate"] = hl7_to_fhir_date(hl7.get("PID-7"))
    address = {
        k: v
        for k, v in (
            ("line", [hl7.get("PID-11.1")]),
            ("city", hl7.get("PID-11.3")),
            ("postalCode", hl7.get("PID-11.5")),
            ("country", hl7.get("PID-11.6")),
        )
        if v and v != [""]
    }
    if address:
        patient["address"] = [address]
    return json.dumps(patient, ensure_ascii=False, separators=(",", ":")).encode()


def relabel_by_hand(msg: MessageView) -> bytes:
    """What mappings/hl7-to-epj does: MSH-3/5/6 replaced."""
    text: str = msg.parsed.text
    segments = hl7_lines(text)
    fields = segments[0].split("|")
    fields[2], fields[4], fields[5] = "KANAL", "EPJ", "RHH"
    segments[0] = "|".join(fields)
    return ("\r".join(segments) + "\r").encode(msg.charset or "utf-8")


CASES: dict[str, tuple[str, Callable[[MessageView], bytes]]] = {
    "adt-to-fhir-patient": ("adt_a01_admit.hl7", patient_by_hand),
    "hl7-to-epj": ("oru_r01_lab.hl7", relabel_by_hand),
}


def view_of(raw: bytes) -> MessageView:
    parsed = parse_messages(raw)[0]
    return MessageView(Incoming("bench", raw, parsed.meta, "bench", 0.0, None, parsed.parsed))


def rate(function: Callable[[MessageView], bytes], msg: MessageView, seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(100):
            function(msg)
        count += 100
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    args = parser.parse_args()
    rows = []
    for name, (fixture, by_hand) in CASES.items():
        mapping = load_mapping(REPO / "mappings", name)
        msg = view_of((REPO / "fixtures" / "hl7v2" / fixture).read_bytes())
        assert mapping.apply(msg) == by_hand(msg), f"{name}: the two do not agree"
        hand, mapped = rate(by_hand, msg, args.seconds), rate(mapping.apply, msg, args.seconds)
        rows.append(
            {
                "mapping": name,
                "hand_written_per_second": round(hand),
                "declarative_per_second": round(mapped),
                "cost_ratio": round(hand / mapped, 2),
            }
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mapping_throughput.json").write_text(
        json.dumps(
            {
                "benchmark": "mapping_throughput",
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"{'mapping':24}{'by hand/s':>12}{'declarative/s':>15}{'cost x':>9}")
    for row in rows:
        print(
            f"{row['mapping']:24}{row['hand_written_per_second']:>12}"
            f"{row['declarative_per_second']:>15}{row['cost_ratio']:>9}"
        )


if __name__ == "__main__":
    main()
