"""`kanal messages resend|cancel`: send dead (or finished) deliveries again, or stop queued ones.

One message by id, or every delivery matching a query (`--status DEAD --channel …`),
in batches with a progress bar; each change is an audit event with who and why.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress

from engine.commands.common import ConfigOption, cli_actor, console, fail, load
from engine.commands.queues import publish_notices
from engine.store.database import open_database
from engine.store.operations import (
    CANCELLABLE,
    RESENDABLE,
    DeliveryQuery,
    cancel,
    in_batches,
    matching,
    message_deliveries,
    resend,
)
from engine.timefmt import parse_time

Destination = Annotated[str | None, typer.Option(help="only this destination")]
Reason = Annotated[str, typer.Option(help="why (kept in the audit trail)")]


def resend_command(
    message_id: Annotated[
        int | None, typer.Argument(help="one message; omit to resend what the query matches")
    ] = None,
    destination: Destination = None,
    status: Annotated[str, typer.Option(help="with no id: deliveries in this state")] = "DEAD",
    channel: Annotated[str | None, typer.Option(help="with no id: this channel")] = None,
    since: Annotated[str | None, typer.Option(help="received after: ISO time or '2h'")] = None,
    until: Annotated[str | None, typer.Option(help="received before: ISO time or '10m'")] = None,
    reason: Reason = "",
    yes: Annotated[bool, typer.Option("--yes", help="do not ask before a bulk resend")] = False,
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
) -> None:
    """Queue deliveries again: one message's, or every one the query matches."""
    engine_config, channels = load(config)
    database = open_database(engine_config.store_url)
    with database.connect() as conn:
        if message_id is not None:
            ids = message_deliveries(conn, message_id, RESENDABLE, destination)
        else:
            try:
                query = DeliveryQuery(
                    status=status,
                    channel=channel,
                    destination=destination,
                    since=parse_time(since) if since else None,
                    until=parse_time(until) if until else None,
                )
                ids = matching(conn, query, RESENDABLE)
            except ValueError as exc:
                fail(str(exc))
    if not ids:
        fail("nothing to resend: no finished or dead deliveries match", code=1)
    if message_id is None and not yes and not typer.confirm(f"Resend {len(ids)} deliveries?"):
        raise typer.Exit(1)
    actor = cli_actor()

    def run(batch: list[int]) -> int:
        with database.begin() as conn:
            return resend(conn, batch, actor, reason)

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("resending", total=len(ids))
        done = in_batches(run, ids, lambda n: progress.update(task, completed=n))
    publish_notices(engine_config, channels, database, ids)  # rabbitmq backend: tell the workers
    console.print(f"{done} deliver{'y' if done == 1 else 'ies'} queued again")


def cancel_command(
    message_id: Annotated[int, typer.Argument(help="message id")],
    destination: Destination = None,
    reason: Reason = "",
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
) -> None:
    """Stop a message's queued or retrying deliveries (they become CANCELLED)."""
    engine_config, _ = load(config)
    with open_database(engine_config.store_url).begin() as conn:
        ids = message_deliveries(conn, message_id, CANCELLABLE, destination)
        done = cancel(conn, ids, cli_actor(), reason)
    if not done:
        fail(f"message {message_id} has no queued or retrying deliveries", code=1)
    console.print(f"{done} deliver{'y' if done == 1 else 'ies'} cancelled")
