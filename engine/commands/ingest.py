"""`kanal send` (as a source system would, through the API) and `kanal inspect`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import track

from engine.commands.common import ConfigOption, fail, load
from engine.config import ConfigError, load_engine_config
from engine.formats import fhir
from engine.formats.hl7_strict import validate_strict
from engine.formats.hl7v2 import HL7Message
from engine.formats.sniff import Parsed, parse_messages
from engine.formats.xml import NoSchema, SchemaCatalogue
from engine.mapping.output import schema_catalogue

SHOW_PROGRESS_FROM = 20


def send(
    files: Annotated[list[Path], typer.Argument(help="message files", exists=True, dir_okay=False)],
    channel: Annotated[str, typer.Option(help="channel to post to")],
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
    url: Annotated[str | None, typer.Option(help="API base URL; default from engine.toml")] = None,
    token: Annotated[
        str, typer.Option(help="API token (source or integrator)", envvar="KANAL_TOKEN")
    ] = "",
) -> None:
    """Post message files to a running engine; prints each stored message id."""
    if not token:
        fail("an API token is needed: --token or KANAL_TOKEN (kanal token create --role source)")
    engine_config, _ = load(config)
    base = url or f"http://{engine_config.api.listen}"
    endpoint = f"{base}/api/v1/channels/{channel}/messages"
    failures = 0
    paths = track(files, description="sending") if len(files) >= SHOW_PROGRESS_FROM else files
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        for path in paths:
            try:
                response = client.post(endpoint, content=path.read_bytes())
            except httpx.HTTPError as exc:
                fail(f"cannot reach the engine at {base}: {exc} (is `kanal run` running?)")
            if response.status_code in (401, 403, 404):
                fail(response.json().get("detail", f"no channel {channel!r}"))
            body = response.json()
            for item in body.get("messages", []):
                state = item["status"] + (f": {item['error']}" if "error" in item else "")
                typer.echo(f"{path}\t{item['id']}\t{state}")
            if response.status_code != 202:
                failures += 1
                if "messages" not in body:
                    typer.echo(f"{path}\t-\t{body}", err=True)
    if failures:
        raise typer.Exit(1)


def inspect(
    file: Annotated[Path, typer.Argument(help="message file", exists=True, dir_okay=False)],
    strict: Annotated[
        bool, typer.Option(help="also validate HL7 v2 strictly (hl7apy: types, cardinality)")
    ] = False,
    config: ConfigOption = "engine.toml",  # type: ignore[assignment]
) -> None:
    """Sniff the format; print metadata and the validation result as JSON.

    A message in a network envelope (VANSEnvelope, SBDH) shows the envelope's facts too.

    OIOXML is validated against MedCom's schemas when engine.toml names a schema_dir;
    FHIR against the R4 structure, with unique ids and references that resolve."""
    schemas = _schemas(config)
    result = [_inspected(p, strict, schemas) for p in parse_messages(file.read_bytes())]
    typer.echo(json.dumps(result[0] if len(result) == 1 else result, indent=2, ensure_ascii=False))
    if any(not item["valid"] for item in result):
        raise typer.Exit(1)


def _schemas(config: Path) -> SchemaCatalogue | None:
    if not config.is_file():
        return None
    try:
        folder = load_engine_config(config).schema_dir
        return schema_catalogue(folder) if folder else None
    except ConfigError as exc:
        fail(str(exc))


def _inspected(parsed: Parsed, strict: bool, schemas: SchemaCatalogue | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "format": parsed.meta.format,
        "valid": parsed.error is None,
        "error": parsed.error,
        "error_code": parsed.error_code or None,
        "metadata": parsed.meta.as_dict(),
    }
    if parsed.envelope is not None:  # VANS/SBDH: metadata are the payload's, facts the envelope's
        item["envelope"] = parsed.envelope.facts()
    if strict and isinstance(parsed.parsed, HL7Message):
        problems = validate_strict(parsed.parsed)
        item["strict"] = {"valid": not problems, "errors": problems}
        item["valid"] = item["valid"] and not problems
    if parsed.meta.format == "xml" and parsed.parsed is not None and schemas is not None:
        try:
            problems = schemas.errors(parsed.parsed)
            item["schema"] = {"valid": not problems, "errors": problems}
            item["valid"] = item["valid"] and not problems
        except NoSchema as exc:
            item["schema"] = {"valid": None, "note": str(exc)}
    if parsed.meta.format == "fhir" and parsed.parsed is not None:
        problems = fhir.bundle_problems(parsed.parsed) or fhir.structure_problems(parsed.parsed)
        item["structure"] = {"valid": not problems, "errors": problems}
        item["valid"] = item["valid"] and not problems
    return item
