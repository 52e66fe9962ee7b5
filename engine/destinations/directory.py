"""Directory destination: write one file per message, atomically (temp file, then rename)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from engine.config import DirectoryDestination
from engine.destinations.base import SendResult
from engine.pipeline.items import Claimed

_ENV = SandboxedEnvironment(undefined=StrictUndefined)


class DirectorySender:
    def __init__(self, config: DirectoryDestination):
        self._folder = Path(config.path)
        self._filename = _ENV.from_string(config.filename)

    async def send(self, payload: bytes, item: Claimed) -> SendResult:
        try:
            name = self._filename.render(
                msg={"id": item.message_id, **item.message}, delivery=item.delivery_id
            )
        except TemplateError as exc:
            return SendResult("fatal", f"file name template failed: {exc}")
        if not name or "/" in name or name.startswith("."):
            return SendResult("fatal", f"file name {name!r} is not a plain file name")
        try:
            await asyncio.to_thread(_write_atomically, self._folder, name, payload)
        except OSError as exc:
            return SendResult("transient", f"cannot write {self._folder / name}: {exc}")
        return SendResult("ok", f"wrote {name}")

    async def close(self) -> None:
        return None


def _write_atomically(folder: Path, name: str, payload: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.tmp"
    with temporary.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / name)
