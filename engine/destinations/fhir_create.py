"""The FHIR destination's `create` mode, through fhirpy.

Each resource (the payload, or each entry of a collection/batch/transaction Bundle) is
created with POST; one with an identifier is created conditionally (If-None-Exist on its
first identifier), so a resend after a lost answer makes no second copy. The server assigns
the ids (FHIR create ignores the client's): resources that reference each other belong in a
transaction Bundle (mode = "transaction") instead.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import BaseFHIRError

from engine.config import FhirDestination
from engine.destinations.base import SendResult, client_tls
from engine.pipeline.items import Verdict

BUNDLES_OF_RESOURCES = ("collection", "batch", "transaction")


def status_verdict(status: int) -> Verdict:
    if 200 <= status < 300:
        return "ok"
    if status >= 500 or status in (408, 429):
        return "transient"
    return "fatal"


class HttpStatusError(Exception):
    def __init__(self, status: int, reason: str, body: str):
        super().__init__(f"HTTP {status} {reason}")
        self.status, self.body = status, body


async def _raise_for_status(response: aiohttp.ClientResponse) -> None:
    """fhirpy folds every error status into one exception; keep the status to classify."""
    if response.status >= 400:
        raise HttpStatusError(response.status, response.reason or "", await response.text())


class FhirCreator:
    def __init__(self, config: FhirDestination):
        self._config = config
        self._aiohttp: dict[str, Any] = {
            "timeout": aiohttp.ClientTimeout(total=config.timeout),
            "raise_for_status": _raise_for_status,
        }
        tls = client_tls(config.tls)
        if tls is not None:
            self._aiohttp["ssl"] = tls

    async def create(self, document: dict[str, Any]) -> SendResult:
        resources = _resources(document)
        if not resources:
            return SendResult("fatal", "nothing to create: the Bundle has no resources")
        created = []
        for resource in resources:
            try:
                saved = await self._create_one(resource)
            except HttpStatusError as exc:
                detail = f"{resource.get('resourceType')}: {exc}" + _diagnostics(exc.body)
                return SendResult(status_verdict(exc.status), detail, exc.body.encode() or None)
            except aiohttp.ClientConnectorError as exc:
                return SendResult(
                    "unreachable", f"cannot connect to {self._config.base_url}: {exc}"
                )
            except TimeoutError:
                return SendResult(
                    "transient",
                    f"no answer from {self._config.base_url} within {self._config.timeout:g}s",
                )
            except (aiohttp.ClientError, BaseFHIRError, ValueError) as exc:
                return SendResult("transient", f"FHIR create failed: {exc!r}")
            created.append(f"{saved.get('resourceType')}/{saved.get('id')}")
        return SendResult("ok", "created " + ", ".join(created))

    async def _create_one(self, resource: dict[str, Any]) -> Any:
        headers = dict(self._config.headers)
        condition = _condition(resource)
        if condition:
            headers["If-None-Exist"] = condition
        client = AsyncFHIRClient(
            self._config.base_url, extra_headers=headers, aiohttp_config=self._aiohttp
        )
        body = {k: v for k, v in resource.items() if k != "id"}  # the server names it
        return await client.resource(resource["resourceType"], **body).save()


def _resources(document: dict[str, Any]) -> list[dict[str, Any]]:
    if document.get("resourceType") == "Bundle" and document.get("type") in BUNDLES_OF_RESOURCES:
        return [
            e["resource"]
            for e in document.get("entry", [])
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
        ]
    return [document]


def _condition(resource: dict[str, Any]) -> str:
    for identifier in resource.get("identifier", []) or []:
        if isinstance(identifier, dict) and identifier.get("value"):
            system = identifier.get("system")
            return (
                f"identifier={system}|{identifier['value']}"
                if system
                else (f"identifier={identifier['value']}")
            )
    return ""


def _diagnostics(body: str) -> str:
    """The first issue's diagnostics of an OperationOutcome answer, if any."""
    try:
        outcome = json.loads(body)
        issue = outcome["issue"][0]
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return ""
    return f": {text}" if text else ""
