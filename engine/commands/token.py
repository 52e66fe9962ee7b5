"""`kanal token create|list|revoke`: API tokens with roles (source, integrator, auditor)."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer
from rich.table import Table

from engine.commands.common import (
    ConfigOption,
    FormatOption,
    check_format,
    cli_actor,
    console,
    fail,
    load,
    print_json,
)
from engine.store.database import migrate, open_database
from engine.store.events import record_event
from engine.store.tokens import ROLES, create_token, list_tokens, revoke_token
from engine.timefmt import iso

app = typer.Typer(help="API tokens: who may post, operate or audit.", no_args_is_help=True)


@app.command("create")
def create(
    role: Annotated[str, typer.Option(help=f"one of: {', '.join(ROLES)}")],
    channel: Annotated[
        str | None, typer.Option(help="a source token: the only channel it may post to")
    ] = None,
    name: Annotated[str | None, typer.Option(help="who holds it (default: made up)")] = None,
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
) -> None:
    """Create a token and print it. It is shown only this once; the store keeps its hash."""
    engine_config, _ = load(config)
    database = open_database(engine_config.store_url)
    migrate(database)
    label = name or f"{role}-{channel or 'all'}-{secrets.token_hex(3)}"
    try:
        with database.begin() as conn:
            token = create_token(conn, label, role, channel)
            scope = f" for channel {channel}" if channel else ""
            record_event(conn, cli_actor(), "TOKEN", f"{label}: {role}{scope}")
    except ValueError as exc:
        fail(str(exc))
    console.print(f"[dim]{label} ({role}{', ' + channel if channel else ''})[/dim]")
    typer.echo(token)


@app.command("list")
def list_command(
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
    format: FormatOption = "table",
) -> None:
    """Every token's name, role, channel, state and last use (to the minute; never the
    token itself): a token nobody has used for months is one to revoke."""
    check_format(format)
    engine_config, _ = load(config)
    database = open_database(engine_config.store_url)
    migrate(database)
    with database.connect() as conn:
        rows = list_tokens(conn)
    for row in rows:
        for key in ("created_at", "revoked_at", "last_used_at"):
            row[key] = iso(row[key]) if row[key] else None
    if format == "json":
        print_json(rows)
        return
    table = Table("name", "role", "channel", "created", "last used", "revoked")
    for row in rows:
        table.add_row(
            row["name"],
            row["role"],
            row["channel"] or "all",
            row["created_at"],
            row["last_used_at"] or "never",
            row["revoked_at"] or "",
        )
    console.print(table)


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="the token's name (see `kanal token list`)")],
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
) -> None:
    """Revoke a token: refused everywhere within seconds."""
    engine_config, _ = load(config)
    database = open_database(engine_config.store_url)
    with database.begin() as conn:
        if not revoke_token(conn, name):
            fail(f"no active token named {name!r}", code=1)
        record_event(conn, cli_actor(), "TOKEN", f"{name}: revoked")
    console.print(f"{name} revoked")
