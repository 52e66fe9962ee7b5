"""Municipality simulator: a MedCom FHIR messaging endpoint and a small FHIR REST server.

POST /fhir/$process-message takes a MedCom message Bundle and answers, synchronously, with
the MedCom Acknowledgement Bundle (engine.receipts.medcom.build_acknowledgement).

HTTP status codes (MedCom's 043_Reliable_Messaging-FHIR names none; FHIR's messaging page
says a processed message is answered 200 with the response message): the Acknowledgement,
whatever its code (ok, transient-error, fatal-error), comes with HTTP 200, because the
message reached the receiver and the Acknowledgement is its verdict. HTTP errors are kept
for what never got that far: 503 + Retry-After while the mailbox is down (fault `down_for`),
400 + OperationOutcome for a body that is not a message Bundle. A received Acknowledgement is
never acknowledged (KR2.R): 204. Faults: `fail_first` answers transient-error, a reject
(`reject_marker`, `reject_all`) fatal-error. A duplicate (same Bundle.id and MessageHeader.id)
of an accepted message gets the identical Acknowledgement again and is counted, not kept.

The REST surface (/fhir/{type}, /fhir/{type}/{id}, transaction Bundles at POST /fhir) is
fhir_store.py; under faults it answers 503 (down, transient) or 422 (reject).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

from engine.api.server import EmbeddedServer
from engine.receipts.medcom import build_acknowledgement, needs_acknowledgement
from engine.simulators.faults import Decision, Faults, FaultState
from engine.simulators.fhir_store import Answer, FhirStore, outcome
from engine.simulators.standalone import serve_until_stopped

FHIR_JSON = "application/fhir+json"
RETRY_AFTER = "1"  # seconds, while down
CODES = {"ok": "ok", "transient": "transient-error", "fatal": "fatal-error"}
ISSUES = {  # MedCom acknowledgement issue codes (standards/medcom/refusal-codes.toml)
    "transient": ("MSG_Mailbox_Out_Of_Operation", "The municipality's mailbox is out of operation"),
    "fatal": ("MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE", "The municipality rejected the message"),
}


@dataclass
class MunicipalitySimulator:
    host: str = "127.0.0.1"
    port: int = 0
    faults: Faults = field(default_factory=Faults)
    received: Counter[str] = field(default_factory=Counter)  # MessageHeader.id → times taken
    messages: list[dict[str, Any]] = field(default_factory=list)  # accepted, first copy each
    store: FhirStore = field(default_factory=FhirStore)
    _acknowledgements: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _state: FaultState = field(default_factory=FaultState)
    _server: EmbeddedServer | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> MunicipalitySimulator:
        config = uvicorn.Config(
            self.app(), host=self.host, port=self.port, log_level="warning", lifespan="off"
        )
        self._server = EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(), name="municipality simulator")
        while not self._server.started:
            if self._task.done():  # e.g. the port is taken
                raise OSError(f"municipality simulator cannot listen on {self.host}:{self.port}")
            await asyncio.sleep(0.01)
        self.port = self._server.port
        self._state.arm(self.faults)
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/fhir"

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.received.values() if count > 1)

    def app(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        app.post("/fhir/$process-message")(self._process_message)
        app.post("/fhir")(self._transaction)
        app.get("/fhir/{kind}")(self._search)
        app.post("/fhir/{kind}")(self._create)
        app.get("/fhir/{kind}/{id_}")(self._read)
        app.put("/fhir/{kind}/{id_}")(self._update)
        return app

    # --- messaging -----------------------------------------------------------------------

    async def _process_message(self, request: Request) -> Response:
        body = await request.body()
        decision = await self._decide(body)
        try:
            bundle = json.loads(body)
        except ValueError:
            bundle = None
        if not isinstance(bundle, dict) or bundle.get("type") != "message":
            return _json(400, outcome("error", "structure", "not a FHIR message Bundle"))
        if not needs_acknowledgement(bundle):
            return Response(status_code=204)  # an acknowledgement is never acknowledged
        if decision == "down":
            return _down()
        header = _header(bundle)
        key = (str(bundle.get("id", "")), str(header.get("id", "")))
        if decision == "ok":
            if key not in self._acknowledgements:
                self._acknowledgements[key] = _acknowledge(bundle, "ok")
                self.messages.append(bundle)
            self.received[key[1]] += 1
            return _json(200, self._acknowledgements[key])
        return _json(200, _acknowledge(bundle, decision))

    # --- REST ----------------------------------------------------------------------------

    async def _transaction(self, request: Request) -> Response:
        body = await request.body()
        refused = await self._refusal(body)
        if refused is not None:
            return refused
        bundle = _load(body)
        if not isinstance(bundle, dict):
            return _json(400, outcome("error", "structure", "not a FHIR Bundle"))
        answer = self.store.transaction(bundle)
        if answer[0] < 300:
            self.received[str(bundle.get("id", ""))] += 1
        return _answer(answer)

    async def _create(self, kind: str, request: Request) -> Response:
        body = await request.body()
        refused = await self._refusal(body)
        if refused is not None:
            return refused
        # fhirpy's get_or_create sends the condition as query parameters
        condition = request.headers.get("If-None-Exist") or request.url.query
        answer = self.store.create(kind, _load(body), condition)
        self._count(answer)
        return _answer(answer)

    async def _update(self, kind: str, id_: str, request: Request) -> Response:
        body = await request.body()
        refused = await self._refusal(body)
        if refused is not None:
            return refused
        answer = self.store.update(kind, id_, _load(body))
        self._count(answer)
        return _answer(answer)

    async def _read(self, kind: str, id_: str) -> Response:
        return _answer(self.store.read(kind, id_))

    async def _search(self, kind: str, request: Request) -> Response:
        return _answer(self.store.searchset(kind, dict(request.query_params)))

    def _count(self, answer: Answer) -> None:
        if answer[0] < 300 and answer[1] is not None:
            self.received[f"{answer[1]['resourceType']}/{answer[1]['id']}"] += 1

    # --- faults --------------------------------------------------------------------------

    async def _decide(self, body: bytes) -> Decision:
        if self.faults.delay:
            await asyncio.sleep(self.faults.delay)
        return self._state.decide(self.faults, body.decode("utf-8", "replace"))

    async def _refusal(self, body: bytes) -> Response | None:
        decision = await self._decide(body)
        if decision in ("down", "transient"):
            return _down()
        if decision == "fatal":
            return _json(422, outcome("error", "business-rule", ISSUES["fatal"][1]))
        return None


def _acknowledge(bundle: dict[str, Any], decision: str) -> dict[str, Any]:
    issue, text = ISSUES.get(decision, (None, ""))
    return build_acknowledgement(
        bundle, CODES[decision], timestamp=datetime.now(UTC), issue=issue, text=text
    )


def _header(bundle: dict[str, Any]) -> dict[str, Any]:
    for entry in bundle.get("entry", []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "MessageHeader":
            return resource
    return {}


def _load(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _down() -> Response:
    body = outcome("error", "transient", "The municipality's FHIR server is out of operation")
    response = _json(503, body)
    response.headers["Retry-After"] = RETRY_AFTER
    return response


def _answer(answer: Answer) -> Response:
    status, body, headers = answer
    response = _json(status, body) if body is not None else Response(status_code=status)
    response.headers.update(headers)
    return response


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=FHIR_JSON)


async def _serve(host: str, port: int) -> None:
    await serve_until_stopped(await MunicipalitySimulator(host, port).start())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Municipality simulator: MedCom FHIR messaging")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    asyncio.run(_serve(args.host, args.port))
