"""`kanal channels list|validate`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from engine.commands.common import (
    ConfigOption,
    FormatOption,
    check_format,
    console,
    fail,
    load,
    print_json,
)
from engine.config import ConfigError
from engine.pipeline.router import compile_channel

app = typer.Typer(help="Channels: list them, validate them.", no_args_is_help=True)


@app.command("list")
def list_channels(
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
    format: FormatOption = "table",
) -> None:
    """Every channel with its source and destinations."""
    check_format(format)
    _, channels = load(config)
    rows = [
        {
            "name": c.name,
            "enabled": c.channel.enabled,
            "source": _describe(c.source),
            "destinations": [f"{d.name} ({d.type})" for d in c.destination],
            "description": c.channel.description,
        }
        for c in channels
    ]
    if format == "json":
        print_json(rows)
        return
    table = Table("channel", "enabled", "source", "destinations", "description")
    for c in channels:
        table.add_row(
            c.name,
            "yes" if c.channel.enabled else "no",
            _describe(c.source),
            "\n".join(f"{d.name} ({d.type})" for d in c.destination),
            c.channel.description,
        )
    console.print(table)


def _describe(source: object) -> str:
    kind = getattr(source, "type", "?")
    if kind == "mllp":
        return f"mllp {getattr(source, 'host', '')}:{getattr(source, 'port', '')}"
    if kind == "directory":
        return f"directory {getattr(source, 'path', '')}"
    return str(kind)


@app.command()
def validate(
    name: Annotated[str | None, typer.Argument(help="one channel; default all")] = None,
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
) -> None:
    """Load every channel, compile its filters and load its mappings."""
    engine_config, channels = load(config)
    selected = [c for c in channels if name is None or c.name == name]
    if name is not None and not selected:
        fail(f"no channel named {name!r} in {engine_config.channels_dir}")
    problems = []
    for channel in selected:
        try:
            compile_channel(channel, engine_config.mappings_dir, engine_config.schema_dir)
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        fail("\n".join(problems))
    console.print(f"[green]ok[/green]: {len(selected)} channel(s) valid")
