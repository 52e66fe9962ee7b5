"""The `kanal` command line."""

from __future__ import annotations

import typer

from engine.commands import (
    audit,
    channels,
    demo,
    ingest,
    mappings,
    messages,
    partners,
    queues,
    run,
    token,
)

app = typer.Typer(
    name="kanal",
    help="Kanal: interoperability integration engine for Danish healthcare.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(run.run)
app.command()(demo.demo)
app.command()(ingest.send)
app.command()(ingest.inspect)
app.command("convert")(mappings.convert_file)
app.add_typer(channels.app, name="channels")
app.add_typer(mappings.app, name="mappings")
app.add_typer(messages.app, name="messages")
app.add_typer(partners.app, name="partners")
app.add_typer(queues.app, name="queues")
app.add_typer(token.app, name="token")
app.add_typer(audit.app, name="audit")

if __name__ == "__main__":
    app()
