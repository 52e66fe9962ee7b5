"""`kanal messages search|show`: find messages and see everything that happened to them."""

from __future__ import annotations

from typing import Annotated, Any

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
from engine.commands.resend import cancel_command, resend_command
from engine.cpr import mask_cpr
from engine.store.database import open_database
from engine.store.disclosure import (
    ReasonRequired,
    check_reason,
    describe,
    logged_detail,
    present,
)
from engine.store.events import record_event
from engine.store.queries import parse_filter, search_messages
from engine.timefmt import iso

app = typer.Typer(help="Search, inspect, resend and cancel messages.", no_args_is_help=True)
app.command("resend")(resend_command)
app.command("cancel")(cancel_command)


@app.command()
def search(
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
    cpr: Annotated[str | None, typer.Option(help="patient CPR (with or without hyphen)")] = None,
    sender: Annotated[str | None, typer.Option(help="sender, e.g. EPJ^RHH")] = None,
    receiver: Annotated[str | None, typer.Option(help="receiver")] = None,
    type: Annotated[str | None, typer.Option("--type", help="message type, e.g. ADT^A01")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="message status (ROUTED, ERROR …) or a delivery's (DEAD, RETRYING …)"),
    ] = None,
    channel: Annotated[str | None, typer.Option(help="channel name")] = None,
    since: Annotated[str | None, typer.Option(help="ISO time or e.g. '2h' ago")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time or e.g. '10m' ago")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    reveal: Annotated[
        bool, typer.Option(help="show CPR numbers unmasked (needs --reason)")
    ] = False,
    reason: Annotated[
        str | None, typer.Option(help="why you reveal them: recorded in the audit log")
    ] = None,
    format: FormatOption = "table",
) -> None:
    """Messages matching every given filter, newest first. The search is an audit event."""
    check_format(format)
    if reveal:
        try:
            reason = check_reason(reason)
        except ReasonRequired:
            fail("--reveal needs --reason TEXT: why you read these patients' CPR numbers")
    engine_config, _ = load(config)
    try:
        where = parse_filter(cpr, sender, receiver, type, status, channel, since, until, limit)
    except ValueError as exc:
        fail(str(exc))
    database = open_database(engine_config.store_url)
    with database.begin() as conn:
        rows = search_messages(conn, where)
        action = "REVEAL" if reveal else "SEARCH"
        record_event(conn, cli_actor(), action, describe(where), reason=reason)
    for row in rows:
        row["received_at"] = iso(row["received_at"])
        if not reveal:
            row["cpr"] = mask_cpr(row["cpr"])
    if format == "json":
        print_json(rows)
        return
    table = Table(
        "id",
        "received (UTC)",
        "channel",
        "status",
        "type",
        "control id",
        "sender",
        "receiver",
        "cpr",
        "error",
    )
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["received_at"][:19].replace("T", " "),  # UTC, to the second
            row["channel"],
            row["status"],
            row["type"],
            row["control_id"],
            row["sender"],
            row["receiver"],
            row["cpr"],
            (row["error"] or "")[:60],
        )
    console.print(table)
    console.print(f"{len(rows)} message(s)", style="dim")


@app.command()
def show(
    message_id: Annotated[int, typer.Argument(help="message id")],
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
    reveal: Annotated[
        bool, typer.Option(help="show the CPR number and the content stages (needs --reason)")
    ] = False,
    reason: Annotated[
        str | None, typer.Option(help="why you reveal them: recorded in the audit log")
    ] = None,
    format: FormatOption = "table",
) -> None:
    """Metadata, deliveries with every attempt, and the audit trail; the content stages
    and the full CPR only with --reveal --reason TEXT (an audit event REVEAL)."""
    check_format(format)
    if reveal:
        try:
            reason = check_reason(reason)
        except ReasonRequired:
            fail("--reveal needs --reason TEXT: why you read this patient's data")
    engine_config, _ = load(config)
    with open_database(engine_config.store_url).begin() as conn:
        detail = logged_detail(conn, cli_actor(), message_id, reason if reveal else None)
    if detail is None:
        fail(f"no message with id {message_id}", code=1)
    detail = present(detail, reveal)
    if format == "json":
        print_json(detail)
        return
    _print_detail(detail)


def _print_detail(detail: dict[str, Any]) -> None:
    meta = Table(show_header=False, title=f"message {detail['id']}")
    for key in (
        "channel",
        "status",
        "format",
        "type",
        "control_id",
        "sender",
        "receiver",
        "cpr",
        "version",
        "charset",
        "origin",
        "size",
        "received_at",
        "error",
    ):
        meta.add_row(key, str(detail[key] if detail[key] is not None else ""))
    console.print(meta)
    if detail.get("pruned_at"):
        console.print(f"content pruned at {detail['pruned_at']} (the channel's retention)")
    for content in detail.get("contents", []):
        where = f" (delivery {content['delivery_id']})" if content["delivery_id"] else ""
        console.rule(f"{content['stage']}{where}")
        console.print(content["data"].replace("\r", "\n").rstrip(), markup=False, highlight=False)
    if "contents" not in detail and detail["stages"]:
        stages = ", ".join(f"{s['stage']} ({s['size']} bytes)" for s in detail["stages"])
        console.print(f"content stages withheld: {stages}; --reveal --reason TEXT shows them")
    deliveries = Table(
        "delivery", "destination", "status", "attempts", "last error", title="deliveries"
    )
    for d in detail["deliveries"]:
        deliveries.add_row(
            str(d["id"]), d["destination"], d["status"], str(d["attempts"]), d["last_error"] or ""
        )
        for a in d["attempt_log"]:
            deliveries.add_row(
                "",
                f"  attempt {a['number']}",
                a["outcome"],
                f"{a['duration_ms']:.1f} ms",
                a["detail"],
            )
    console.print(deliveries)
    audit = Table("at", "actor", "action", "delivery", "detail", "reason", title="audit trail")
    for e in detail["audit"]:
        audit.add_row(
            e["at"],
            e["actor"],
            e["action"],
            str(e["delivery_id"] or ""),
            e["detail"],
            e.get("reason") or "",
        )
    console.print(audit)
