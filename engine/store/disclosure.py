"""Reads of messages by people (the API, the console, `kanal messages show`).

Every search and every read is an audit event in the same transaction as the read
(SEARCH with the filters, READ with the message id). The full CPR and the content stages
(raw, transformed, response) are disclosed only with a reason, and the disclosure is a
REVEAL event with that reason. Without one, CPR numbers are masked: 010170-****.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection

from engine.cpr import mask_cpr, mask_cpr_in_text
from engine.store.audit import event, seal, stage
from engine.store.events import record_event
from engine.store.queries import SearchFilter, message_detail, search_messages
from engine.timefmt import iso

SUMMARY_KEYS = (
    "id",
    "channel",
    "status",
    "format",
    "type",
    "control_id",
    "sender",
    "receiver",
    "cpr",
    "received_at",
    "error",
)


class ReasonRequired(ValueError):
    """A reveal without a reason: refused before anything is read."""


def check_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ReasonRequired("a reason is required to reveal content and the CPR number")
    return text


def logged_search(conn: Connection, actor: str, where: SearchFilter) -> list[dict[str, Any]]:
    """Search, and record who searched for what (SEARCH). Rows come back masked."""
    rows = search_messages(conn, where)
    record_event(conn, actor, "SEARCH", describe(where))
    return [summary(row) for row in rows]


def describe(where: SearchFilter) -> str:
    """The filters of a search as the audit event's detail (JSON, given filters only)."""
    given = {
        "cpr": where.cpr.replace("-", "") if where.cpr else None,
        "sender": where.sender,
        "receiver": where.receiver,
        "type": where.type,
        "status": where.status,
        "channel": where.channel,
        "since": iso(where.since) if where.since is not None else None,
        "until": iso(where.until) if where.until is not None else None,
        "before_id": where.before_id,
    }
    return json.dumps({k: v for k, v in given.items() if v is not None}, sort_keys=True)


def summary(row: dict[str, Any]) -> dict[str, Any]:
    item = {key: row.get(key) for key in SUMMARY_KEYS}
    item["cpr"] = mask_cpr(item["cpr"])
    item["received_at"] = iso(item["received_at"])
    return item


def logged_detail(
    conn: Connection, actor: str, message_id: int, reason: str | None = None
) -> dict[str, Any] | None:
    """One message as message_detail() gives it, read by a person (READ); with a reason,
    for revealing in full (REVEAL): pass the result to present(detail, reveal=...).

    Returns None for an unknown id (nothing is recorded then)."""
    why = check_reason(reason) if reason is not None else None  # refused before reading
    detail = message_detail(conn, message_id)
    if detail is None:
        return None
    read = [event(actor, "READ", f"message {message_id}", message_id=message_id)]
    if why is not None:
        what = f"message {message_id}: CPR and content stages"
        read.append(event(actor, "REVEAL", what, reason=why, message_id=message_id))
    stage(conn, read)
    seal(conn)
    return detail


def present(detail: dict[str, Any], reveal: bool) -> dict[str, Any]:
    """A message_detail() as JSON-safe values: times in ISO-8601, the CPR masked and the
    content stages withheld (listed as `stages`) unless revealed (then also `contents`)."""
    out = dict(detail)
    charset = out["charset"] or "utf-8"
    for key in ("received_at", "updated_at", "pruned_at"):
        out[key] = iso(out.get(key))
    if not reveal:
        out["cpr"] = mask_cpr(out["cpr"])
    out["stages"] = [
        {
            "stage": c["stage"],
            "delivery_id": c["delivery_id"],
            "size": len(c["data"]),
            "created_at": iso(c["created_at"]),
        }
        for c in detail["contents"]
    ]
    if reveal:  # decoded only when shown
        out["contents"] = [
            {**s, "data": c["data"].decode(charset, "replace")}
            for s, c in zip(out["stages"], detail["contents"], strict=True)
        ]
    else:
        out.pop("contents")
    out["deliveries"] = [_delivery(d) for d in detail["deliveries"]]
    out["audit"] = [{**e, "at": iso(e["at"])} for e in detail["audit"]]
    return out


def responses(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The response stages (what destinations answered: ACKs, receipts) with any CPR-like
    number masked: shown to people without a reveal, to tell what happened."""
    charset = detail["charset"] or "utf-8"
    return [
        {
            "delivery_id": c["delivery_id"],
            "created_at": iso(c["created_at"]),
            "data": mask_cpr_in_text(c["data"].decode(charset, "replace")),
        }
        for c in detail["contents"]
        if c["stage"] == "response"
    ]


def _delivery(delivery: dict[str, Any]) -> dict[str, Any]:
    out = dict(delivery)
    for key in ("created_at", "updated_at", "next_attempt_at", "lease_until"):
        out[key] = iso(out.get(key))
    out["attempt_log"] = [{**a, "started_at": iso(a["started_at"])} for a in out["attempt_log"]]
    return out
