"""`msg` as filters and templates see it: metadata plus field access by path."""

from __future__ import annotations

from typing import Any

from engine.pipeline.items import Incoming


class MessageView:
    """Read-only; `msg.type`, `msg.cpr`, `msg.get('PID-5.1')`, `msg.text`."""

    __slots__ = ("_incoming", "id")

    def __init__(self, incoming: Incoming, message_id: int | None = None):
        self._incoming = incoming
        self.id = message_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._incoming.meta, name)

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
