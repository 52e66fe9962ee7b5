"""Coverage-guided fuzzing of the front door with atheris (libFuzzer), for long local runs.

Not collected by pytest (no test_ prefix) and atheris is not a project dependency:

    .venv/bin/pip install atheris
    .venv/bin/python tests/fuzz/atheris_parsers.py [SECONDS] [libFuzzer flags...]

It seeds libFuzzer with the same real messages as test_fuzz_parsers.py (written to a
temporary corpus folder) and runs `parse_messages` for SECONDS (default 60). A crash is
any exception out of parse_messages or a Parsed that breaks its contract; libFuzzer
writes the input as crash-<sha1> in the current folder and prints how to replay it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports():
    from engine.formats.sniff import parse_messages

from test_fuzz_parsers import check_parsed, corpus


def one_input(data: bytes) -> None:
    check_parsed(parse_messages(data))


def main() -> None:
    args = sys.argv[1:]
    seconds = int(args.pop(0)) if args and args[0].isdigit() else 60
    with tempfile.TemporaryDirectory(prefix="kanal-atheris-") as folder:
        seeds = Path(folder)
        for kind in ("hl7v2", "edifact", "xml", "json"):
            for n, message in enumerate(corpus(kind)):
                (seeds / f"{kind}-{n}").write_bytes(message)
        flags = [f"-max_total_time={seconds}", "-max_len=200000", "-rss_limit_mb=2048"]
        atheris.Setup([sys.argv[0], *flags, *args, str(seeds)], one_input)
        atheris.Fuzz()


if __name__ == "__main__":
    main()
