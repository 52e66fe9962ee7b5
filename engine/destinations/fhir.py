"""FHIR destination: MedCom messaging ($process-message), transaction Bundles, or creates.

process-message: POST the message Bundle to `{base_url}/$process-message`; the answer is the
partner's MedCom Acknowledgement, and its response.code decides (ok, transient-error,
fatal-error), its text going into the detail. An answer without an Acknowledgement is
judged by its HTTP status alone. transaction: POST the Bundle to the base. create: see
fhir_create.py. HTTP 5xx/429/408 and timeouts are transient, other 4xx fatal, a refused
connection unreachable.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from engine.config import FhirDestination
from engine.destinations.base import SendResult, client_tls
from engine.destinations.fhir_create import FhirCreator, status_verdict
from engine.pipeline.items import Claimed
from engine.receipts.medcom import read_receipt

FHIR_JSON = "application/fhir+json"
ACK_VERDICTS = {"ok": "ok", "transient-error": "transient", "fatal-error": "fatal"}


class FhirSender:
    def __init__(self, config: FhirDestination):
        self._config = config
        self._base = config.base_url.rstrip("/")
        verify: bool | object = client_tls(config.tls) or True
        self._client = httpx.AsyncClient(timeout=config.timeout, verify=verify)  # type: ignore[arg-type]
        self._creator = FhirCreator(config) if config.mode == "create" else None

    async def send(self, payload: bytes, item: Claimed) -> SendResult:
        try:
            document = json.loads(payload)
        except ValueError as exc:
            return SendResult("fatal", f"the payload is not FHIR JSON: {exc}")
        if not isinstance(document, dict) or "resourceType" not in document:
            return SendResult("fatal", "the payload is not a FHIR resource")
        if self._creator is not None:
            return await self._creator.create(document)
        process = self._config.mode == "process-message"
        url = f"{self._base}/$process-message" if process else self._base
        headers = {
            "Content-Type": f"{FHIR_JSON}; charset=utf-8",
            "Accept": FHIR_JSON,
            "X-Kanal-Message-Id": str(item.message_id),
            **self._config.headers,
        }
        try:
            response = await self._client.post(url, content=payload, headers=headers)
        except httpx.ConnectError as exc:
            return SendResult("unreachable", f"cannot connect to {url}: {exc}")
        except httpx.TimeoutException:
            return SendResult("transient", f"no answer from {url} within {self._config.timeout:g}s")
        except httpx.HTTPError as exc:
            return SendResult("transient", f"HTTP error: {exc!r}")
        http = f"HTTP {response.status_code} {response.reason_phrase}"
        if process:
            judged = _acknowledgement(response.content, _header_id(document), http)
            if judged is not None:
                return judged
        verdict = status_verdict(response.status_code)
        return SendResult(verdict, http, response.content or None)

    async def close(self) -> None:
        await self._client.aclose()


def _acknowledgement(body: bytes, sent_id: str, http: str) -> SendResult | None:
    """The verdict of a MedCom Acknowledgement in `body`; None when there is none."""
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        return None
    verdict = read_receipt(answer) if isinstance(answer, dict) else None
    if verdict is None or verdict.format != "fhir":
        return None
    code = verdict.response_code or ""
    detail = f"Acknowledgement {code or '(no code)'}" + (
        f": {verdict.text}" if verdict.text else ""
    )
    detail += f" ({http})"
    if sent_id and verdict.refers_to != sent_id:  # the partner answered something else
        return SendResult(
            "transient", f"Acknowledgement names {verdict.refers_to!r}, we sent {sent_id!r}", body
        )
    outcome = ACK_VERDICTS.get(code, "transient")
    # an ok Acknowledgement in the answer is the receipt itself: ACKNOWLEDGED at once
    return SendResult(outcome, detail, body, acknowledged=outcome == "ok")  # type: ignore[arg-type]


def _header_id(bundle: dict[str, Any]) -> str:
    for entry in bundle.get("entry", []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "MessageHeader":
            return str(resource.get("id", ""))
    return ""
