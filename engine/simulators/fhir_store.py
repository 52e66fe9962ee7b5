"""The municipality simulator's plain FHIR REST surface: resources kept in memory.

Just enough of FHIR's RESTful API for fhirpy and transaction Bundles: create (with
conditional create by `If-None-Exist` or, as fhirpy's `get_or_create` sends it, by query
parameters on the POST), update by id, read, search by `_id`/`identifier`, and
transaction/batch Bundles whose `urn:uuid:` references are rewritten to the ids given.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

Answer = tuple[int, dict[str, Any] | None, dict[str, str]]  # status, body, headers


def outcome(severity: str, code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": text}],
    }


@dataclass
class FhirStore:
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def read(self, kind: str, id_: str) -> Answer:
        found = self.resources.get((kind, id_))
        if found is None:
            return 404, outcome("error", "not-found", f"{kind}/{id_} is not here"), {}
        return 200, found, {}

    def search(self, kind: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """`_id` and `identifier` (system|value or value) only; other parameters are ignored."""
        hits = [r for (k, _), r in self.resources.items() if k == kind]
        if "_id" in params:
            hits = [r for r in hits if r.get("id") == params["_id"]]
        if "identifier" in params:
            system, _, value = params["identifier"].rpartition("|")
            hits = [r for r in hits if _has_identifier(r, system, value)]
        return hits

    def searchset(self, kind: str, params: dict[str, str]) -> Answer:
        hits = self.search(kind, params)
        body = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(hits),
            "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in hits],
        }
        return 200, body, {}

    def create(self, kind: str, resource: Any, condition: str = "") -> Answer:
        problem = _check(kind, resource)
        if problem:
            return 400, outcome("error", "invalid", problem), {}
        if condition:
            hits = self.search(kind, dict(parse_qsl(condition)))
            if len(hits) > 1:
                return 412, outcome("error", "duplicate", f"{condition} matches {len(hits)}"), {}
            if hits:  # conditional create: already there, nothing new
                return 200, hits[0], _location(hits[0])
        return 201, *self._put(kind, str(uuid.uuid4()), resource)

    def update(self, kind: str, id_: str, resource: Any) -> Answer:
        problem = _check(kind, resource)
        if problem:
            return 400, outcome("error", "invalid", problem), {}
        if resource.get("id") not in (None, id_):
            return 400, outcome("error", "invalid", f"id {resource['id']!r} is not {id_!r}"), {}
        status = 200 if (kind, id_) in self.resources else 201
        return status, *self._put(kind, id_, resource)

    def transaction(self, bundle: dict[str, Any]) -> Answer:
        """A transaction or batch Bundle; a transaction is all or nothing."""
        kind = bundle.get("type")
        if kind not in ("transaction", "batch"):
            return (
                400,
                outcome("error", "invalid", f"Bundle.type {kind!r} is not a transaction"),
                {},
            )
        before = dict(self.resources)
        references: dict[str, str] = {}
        answers: list[Answer] = []
        for entry in bundle.get("entry", []):
            answer = self._entry(entry, references)
            if answer[0] >= 400 and kind == "transaction":
                self.resources = before
                return answer
            answers.append(answer)
        for key, resource in self.resources.items():
            if key not in before or before[key] is not resource:
                _rewrite(resource, references)
        entries = [
            {"response": {"status": str(status), **({"location": h["Location"]} if h else {})}}
            for status, _, h in answers
        ]
        return 200, {"resourceType": "Bundle", "type": f"{kind}-response", "entry": entries}, {}

    def _entry(self, entry: dict[str, Any], references: dict[str, str]) -> Answer:
        request = entry.get("request") or {}
        method, url = request.get("method"), str(request.get("url", ""))
        resource = copy.deepcopy(entry.get("resource"))
        kind, _, id_ = url.partition("?")[0].partition("/")
        if method == "POST":
            answer = self.create(kind, resource, request.get("ifNoneExist", ""))
        elif method == "PUT" and id_:
            answer = self.update(kind, id_, resource)
        else:
            return 400, outcome("error", "not-supported", f"{method} {url}"), {}
        if answer[0] < 300 and entry.get("fullUrl") and answer[1]:
            references[entry["fullUrl"]] = f"{kind}/{answer[1]['id']}"
        return answer

    def _put(
        self, kind: str, id_: str, resource: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        previous = self.resources.get((kind, id_), {})
        version = int((previous.get("meta") or {}).get("versionId", "0")) + 1
        stored = {**copy.deepcopy(resource), "id": id_}
        stored["meta"] = {
            **(stored.get("meta") or {}),
            "versionId": str(version),
            "lastUpdated": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        self.resources[(kind, id_)] = stored
        return stored, _location(stored)


def _check(kind: str, resource: Any) -> str:
    if not isinstance(resource, dict) or resource.get("resourceType") != kind:
        return f"the body is not a {kind} resource"
    return ""


def _location(resource: dict[str, Any]) -> dict[str, str]:
    version = (resource.get("meta") or {}).get("versionId", "1")
    return {"Location": f"{resource['resourceType']}/{resource['id']}/_history/{version}"}


def _has_identifier(resource: dict[str, Any], system: str, value: str) -> bool:
    return any(
        i.get("value") == value and (not system or i.get("system") == system)
        for i in resource.get("identifier", [])
        if isinstance(i, dict)
    )


def _rewrite(node: Any, references: dict[str, str]) -> None:
    """Point `reference`s at a transaction's fullUrls to the resources they became."""
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str) and ref in references:
            node["reference"] = references[ref]
        for value in node.values():
            _rewrite(value, references)
    elif isinstance(node, list):
        for value in node:
            _rewrite(value, references)
