"""`msg` as filters and templates see it: metadata plus field access by path."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from engine.formats.metadata import Metadata
from engine.pipeline.items import Incoming


class MessageView:
    """Read-only; `msg.type`, `msg.cpr`, `msg.get('PID-5.1')`, `msg.text`.

    Every metadata field is a property (set below): filters and mappings read them for
    every message, and a property is several times cheaper than `__getattr__`.
    """

    __slots__ = ("_incoming", "id")

    # The metadata fields, for type checkers: the properties are attached below.
    format: str
    type: str
    control_id: str
    sender: str
    receiver: str
    version: str
    cpr: str | None
    patient_ids: list[str]
    charset: str
    envelope_id: str | None
    receipt_requested: bool
    sender_sor: str
    receiver_sor: str
    episode_of_care_id: str

    def __init__(self, incoming: Incoming, message_id: int | None = None):
        self._incoming = incoming
        self.id = message_id

    @property
    def channel(self) -> str:
        return self._incoming.channel

    @property
    def raw(self) -> bytes:
        return self._incoming.raw

    @property
    def text(self) -> str:
        parsed = self._incoming.parsed
        if parsed is not None and hasattr(parsed, "text"):
            return str(parsed.text)
        return self._incoming.raw.decode(self._incoming.meta.charset or "utf-8", "replace")

    def get(self, path: str) -> str:
        parsed = self._incoming.parsed
        return str(parsed.get(path)) if parsed is not None else ""

    @property
    def parsed(self) -> Any:
        return self._incoming.parsed


def _metadata_property(name: str) -> property:
    return property(lambda view: getattr(view._incoming.meta, name), doc=f"metadata: {name}")


for _field in fields(Metadata):
    setattr(MessageView, _field.name, _metadata_property(_field.name))
