"""MLLP source: persistent connections, one ACK per frame, sent only after the commit."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Literal

import structlog
from hl7.mllp import InvalidBlockError, start_hl7_server

from engine.config import MllpSource
from engine.pipeline.receive import Receiver
from engine.receipts.hl7_answer import STORE_UNAVAILABLE, answer, refuse
from engine.sources.tls import server_tls
from engine.store.writer import StoreUnavailable

log = structlog.get_logger("kanal.mllp")

# After a reply: read the next frame, hang up, or drop the rest of a refused frame first
After = Literal["open", "close", "drain"]


class MllpListener:
    def __init__(self, channel: str, config: MllpSource, receiver: Receiver):
        self.channel = channel
        self._config = config
        self._receiver = receiver
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._refused = 0  # connections over max_connections, since the last warning
        self._refused_logged = 0.0

    async def start(self) -> None:
        self._server = await start_hl7_server(
            self._serve,
            self._config.host,
            self._config.port,
            limit=self._config.max_message_bytes,
            ssl=server_tls(self._config.tls, f"channel {self.channel!r} source"),
            reuse_address=True,
        )
        log.info("mllp.listening", channel=self.channel, port=self.port)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: Any, writer: Any) -> None:
        if len(self._connections) >= self._config.max_connections:
            self._refuse_connection()
            writer.transport.abort()  # at once: no slot, no descriptor held
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = writer.get_extra_info("peername") or ("?", 0)
        origin = f"mllp:{peer[0]}:{peer[1]}"
        try:
            after: After = "open"
            while after == "open":
                reply, after = await self._next_reply(reader, origin)
                if reply:
                    writer.writeblock(reply)
                    await writer.drain()
            if after == "drain":
                await self._drain(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _refuse_connection(self) -> None:
        """Count a refused connection; warn at most every 10 s (a flood must not flood the log)."""
        self._refused += 1
        now = time.monotonic()
        if now - self._refused_logged >= 10:
            log.warning(
                "mllp.too_many_connections",
                channel=self.channel,
                max_connections=self._config.max_connections,
                refused=self._refused,
            )
            self._refused, self._refused_logged = 0, now

    async def _next_reply(self, reader: Any, origin: str) -> tuple[bytes, After]:
        """The reply to the next frame, and what becomes of the connection."""
        try:
            async with asyncio.timeout(self._config.timeout):
                frame = bytes(await reader.readblock())
        except (asyncio.IncompleteReadError, TimeoutError):
            return b"", "close"  # peer closed, or idle (or slow) too long
        except InvalidBlockError:
            log.warning("mllp.invalid_frame", channel=self.channel, origin=origin)
            return b"", "close"  # not MLLP at all: nothing sensible to answer
        except (ValueError, asyncio.LimitOverrunError):
            # The stream is out of step after an overrun: refuse, then hang up.
            limit = self._config.max_message_bytes
            log.warning("mllp.frame_too_large", channel=self.channel, origin=origin, limit=limit)
            return refuse(b"", f"message larger than {limit} bytes, not accepted", "100"), "drain"
        try:
            receipts = await self._receiver.receive(self.channel, frame, origin)
        except StoreUnavailable:
            return refuse(frame, STORE_UNAVAILABLE), "open"
        return answer(receipts), "open"

    async def _drain(self, reader: Any, writer: Any) -> None:
        """Hang up gracefully on a sender still sending: say so (half-close where the
        transport can), then read and drop what still comes, for up to `timeout`. Closing
        with unread bytes makes the kernel reset the connection, and the reset would
        destroy the AR before the sender reads it."""
        if writer.can_write_eof():
            writer.write_eof()
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(self._config.timeout):
                while await reader.read(65536):
                    pass
