"""MLLP destination: one persistent connection, send a frame, wait for the HL7 ACK."""

from __future__ import annotations

import asyncio
import contextlib

from hl7.mllp import open_hl7_connection

from engine.config import MllpDestination
from engine.destinations.base import SendResult, client_tls
from engine.formats.hl7v2 import HL7Error
from engine.pipeline.items import Claimed
from engine.receipts.hl7_ack import parse_ack

MAX_ACK_BYTES = 1024 * 1024


class MllpSender:
    def __init__(self, config: MllpDestination):
        self._config = config
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        async with asyncio.timeout(self._config.timeout):
            self._reader, self._writer = await open_hl7_connection(
                self._config.host,
                self._config.port,
                limit=MAX_ACK_BYTES,
                ssl=client_tls(self._config.tls),
            )

    async def send(self, payload: bytes, item: Claimed) -> SendResult:
        if self._reader is not None and self._reader.at_eof():
            # The partner hung up while we were idle (it went down, or dropped an idle
            # connection): nothing was sent on it, so connect again instead of counting a
            # failed attempt against the message.
            await self.close()
        if self._writer is None:
            try:
                await self._connect()
            except (OSError, TimeoutError) as exc:
                return SendResult("unreachable", f"cannot connect to {self._where}: {exc}")
        try:
            async with asyncio.timeout(self._config.timeout):
                return await self._exchange(payload)
        except TimeoutError:
            await self.close()
            return SendResult(
                "transient", f"no ACK from {self._where} within {self._config.timeout:g}s"
            )
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            await self.close()
            return SendResult("transient", f"connection to {self._where} failed: {exc!r}")

    async def _exchange(self, payload: bytes) -> SendResult:
        assert self._reader is not None and self._writer is not None
        self._writer.writeblock(payload)  # type: ignore[attr-defined]
        await self._writer.drain()
        response = bytes(await self._reader.readblock())  # type: ignore[attr-defined]
        return self._classify(response)

    def _classify(self, response: bytes) -> SendResult:
        try:
            code, _, text = parse_ack(response)
        except HL7Error as exc:
            return SendResult("transient", f"unreadable ACK: {exc.reason}", response)
        detail = f"{code} {text}".strip()
        if code in ("AA", "CA"):
            return SendResult("ok", detail, response)
        if code in ("AE", "CE"):
            return SendResult(self._config.on_ae, detail, response)
        if code in ("AR", "CR"):
            return SendResult(self._config.on_ar, detail, response)
        return SendResult("transient", f"unknown acknowledgement code {code!r}", response)

    @property
    def _where(self) -> str:
        return f"{self._config.host}:{self._config.port}"

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
