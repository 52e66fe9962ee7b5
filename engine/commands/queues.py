"""`kanal queues rebuild`: the broker's queues again from the store, the source of truth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.progress import Progress
from sqlalchemy import Engine as Database

from engine.commands.common import ConfigOption, console, fail, load
from engine.config import ChannelConfig, EngineConfig
from engine.queue.names import notified
from engine.queue.publisher import NoticePublisher, QueueUnavailable
from engine.queue.rebuild import announce, open_deliveries
from engine.store.database import open_database

app = typer.Typer(help="The rabbitmq queue backend's queues.", no_args_is_help=True)


@app.command("rebuild")
def rebuild(
    channel: Annotated[str | None, typer.Option(help="only this channel's deliveries")] = None,
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
) -> None:
    """Publish a notice for every open delivery (after the broker lost its data).

    A delivery that still has its notice gets a second one; the store's claim makes sure
    it is sent once all the same."""
    engine_config, channels = load(config)
    if engine_config.queue.backend != "rabbitmq":
        fail("queue.backend is not rabbitmq: the sql backend has no queues to rebuild")
    database = open_database(engine_config.store_url)
    ids = open_deliveries(database, channel)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("publishing notices", total=len(ids))
        done = publish_notices(
            engine_config, channels, database, ids, lambda n: progress.update(task, completed=n)
        )
    console.print(f"{done} open deliver{'y' if done == 1 else 'ies'} announced")


def publish_notices(
    config: EngineConfig,
    channels: list[ChannelConfig],
    database: Database,
    ids: list[int],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Notices for these deliveries, when the engine runs the rabbitmq backend; how many
    were published (ordered destinations claim from the store and get none)."""
    if config.queue.backend != "rabbitmq" or not ids:
        return 0
    publisher = NoticePublisher(config.queue.url, notified(channels))
    try:
        return announce(database, publisher.publish_blocking, ids, progress)
    except QueueUnavailable as exc:
        fail(f"{exc}; the workers' sweep will find these deliveries within queue.sweep")
    finally:
        publisher.close_blocking()
