"""`kanal audit verify`: check that the audit log's hash chain is unbroken.

Every audit event is chained to the one before it; a changed or deleted event breaks the
chain from there. Exits 0 when it is intact, 1 naming the first broken event.
"""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.exc import OperationalError, ProgrammingError

from engine.commands.common import ConfigOption, console, fail, load
from engine.store.audit import verify
from engine.store.database import open_database

app = typer.Typer(help="The audit log: check that nobody changed it.", no_args_is_help=True)


@app.command("verify")
def verify_command(config: ConfigOption = "engine.toml") -> None:  # type: ignore[assignment]
    """Recompute every audit event's hash; name the first event changed or missing."""
    engine_config, _ = load(config)
    database = open_database(engine_config.store_url)
    with (
        database.connect() as conn,
        Progress(
            TextColumn("checking the audit chain"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("verify", total=None)
        try:
            result = verify(
                conn, lambda done, total: progress.update(task, completed=done, total=total)
            )
        except (OperationalError, ProgrammingError) as exc:  # a store not yet migrated
            fail(f"cannot read the audit log: {exc.orig}")
    if not result.ok:
        fail(f"audit chain broken: {result.problem}", code=1)
    noun = "event" if result.checked == 1 else "events"
    console.print(f"audit chain intact: {result.checked} {noun}")
    # worth keeping elsewhere: while event seq N still has this hash, nothing up to it was
    # rewritten, not even by someone who recomputed the chain
    head = f"head: seq {result.head_seq}, hash {result.head_hash}"
    console.print(f"[dim]{head}[/dim]", soft_wrap=True)
