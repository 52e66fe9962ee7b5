"""`kanal mappings test [NAME]` and `kanal convert FILE --mapping NAME`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from engine.commands.common import ConfigOption, console, fail
from engine.config import ConfigError, EngineConfig, load_engine_config
from engine.mapping.base import MappingError
from engine.mapping.loader import load_mapping
from engine.mapping.pairs import check_pairs, pair_stems
from engine.mapping.testing import convert, mapping_names, run_tests

app = typer.Typer(help="Mappings: run their tests.", no_args_is_help=True)


def _engine(config: Path) -> EngineConfig:
    try:
        return load_engine_config(config)
    except ConfigError as exc:
        fail(str(exc))


@app.command("test")
def test_mappings(
    name: Annotated[str | None, typer.Argument(help="one mapping; default all")] = None,
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
) -> None:
    """Run every mapping's tests/ and show what differs."""
    engine = _engine(config)
    folder = engine.mappings_dir
    names = [name] if name else mapping_names(folder)
    if not names:
        fail(f"no mappings in {folder}")
    failed = 0
    for mapping in names:
        try:
            results = run_tests(folder, mapping, engine.schema_dir)
        except ConfigError as exc:
            fail(str(exc))
        for result in results:
            mark = "[green]PASS[/green]" if result.passed else "[red]FAIL[/red]"
            console.print(f"{mark} {result.mapping} / {result.case}")
            for problem in result.problems:
                console.print(f"    {problem}", markup=False, highlight=False)
            failed += not result.passed
    if failed:
        console.print(f"[red]{failed} failing[/red]")
        raise typer.Exit(1)


@app.command("pairs")
def medcom_pairs(
    folder: Annotated[
        Path, typer.Argument(help="MedCom's reference pairs: X.edi beside X.xml", file_okay=False)
    ],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show differences")] = False,
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
) -> None:
    """Convert every EDIFACT↔XML pair both ways and count passes per message type."""
    engine = _engine(config)
    stems = pair_stems(folder)
    if not stems:
        fail(f"no pairs (X.edi beside X.xml) in {folder}")
    counts: dict[str, list[int]] = {}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("converting", total=2 * len(stems))
        for result in check_pairs(folder, engine.mappings_dir, engine.schema_dir):
            passed, total = counts.setdefault(result.message_type, [0, 0])
            counts[result.message_type] = [passed + result.passed, total + 1]
            if not result.passed:
                console.print(f"[red]FAIL[/red] {result.pair} {result.direction}")
                for problem in result.problems[: 40 if verbose else 3]:
                    console.print(f"    {problem}", markup=False, highlight=False)
            progress.advance(task)
    table = Table("message type", "passed (both directions)")
    for code, (passed, total) in sorted(counts.items()):
        table.add_row(code, f"{'[green]' if passed == total else '[red]'}{passed}/{total}")
    console.print(table)
    failed = sum(total - passed for passed, total in counts.values())
    console.print(f"{2 * len(stems) - failed}/{2 * len(stems)} conversions match MedCom's")
    if failed:
        raise typer.Exit(1)


def convert_file(
    file: Annotated[Path, typer.Argument(help="message file", exists=True, dir_okay=False)],
    mapping: Annotated[str, typer.Option(help="a folder under mappings/")],
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
) -> None:
    """Run one mapping on one file and print the result."""
    try:
        engine = _engine(config)
        loaded = load_mapping(engine.mappings_dir, mapping, engine.schema_dir)
        output = convert(loaded, file.read_bytes())
    except (ConfigError, MappingError) as exc:
        fail(str(exc), code=1)
    if sys.stdout.isatty():  # for a person: HL7's bare CR would overwrite lines
        output = output.replace(b"\r", b"\n")
        if loaded.target in ("json", "fhir"):
            output = json.dumps(json.loads(output), indent=2, ensure_ascii=False).encode()
            output += b"\n"
    sys.stdout.buffer.write(output)
    sys.stdout.flush()
