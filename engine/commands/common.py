"""What every command shares: --config, loading, errors as one readable line, output."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from engine.config import (
    ChannelConfig,
    ConfigError,
    EngineConfig,
    load_channels,
    load_engine_config,
)

console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="engine settings file", envvar="KANAL_CONFIG")
]
FormatOption = Annotated[str, typer.Option("--format", help="table or json")]


def load(config_path: Path) -> tuple[EngineConfig, list[ChannelConfig]]:
    try:
        config = load_engine_config(config_path)
        return config, load_channels(config.channels_dir, config.base_dir)
    except ConfigError as exc:
        fail(str(exc))


def cli_actor() -> str:
    """Who does it, in the audit log: the operating-system user running the command."""
    return f"cli:{getpass.getuser()}"


def fail(message: str, code: int = 2) -> NoReturn:
    errors.print(
        f"[red]error:[/red] {escape(message)}", highlight=False, markup=True, soft_wrap=True
    )
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def check_format(value: str) -> None:
    if value not in ("table", "json"):
        fail(f"--format must be 'table' or 'json', not {value!r}")
