"""One RabbitMQ channel in confirm mode, for publishing from the event loop.

pika's BlockingConnection is not thread-safe, so the channel lives on one thread of its
own: `call` runs a function there. The connection and channel are opened when first
needed and again after they are lost (`forget`). Used by the amqp destination and by the
rabbitmq backend's notice publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

T = TypeVar("T")


def connection_parameters(
    url: str, timeout: float = 10.0, tls: ssl.SSLContext | None = None
) -> pika.URLParameters:
    """Parameters that fail within `timeout` (connect, stack, a broker that blocks us)."""
    parameters = pika.URLParameters(url)
    parameters.socket_timeout = timeout
    parameters.stack_timeout = timeout
    parameters.blocked_connection_timeout = timeout
    parameters.connection_attempts = 1
    if tls is not None:
        parameters.ssl_options = pika.SSLOptions(tls, parameters.host)
    return parameters


class ConfirmedChannel:
    def __init__(self, parameters: pika.URLParameters, thread_name: str):
        self._parameters = parameters
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=thread_name)
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on the channel's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    def channel(self) -> BlockingChannel:
        """The open channel, opening the connection or channel again if needed (on the
        channel's thread, or from a command that has no other thread)."""
        if self._connection is None or self._connection.is_closed:
            self._connection = pika.BlockingConnection(self._parameters)
            self._channel = None
        if self._channel is None or self._channel.is_closed:
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
        return self._channel

    def drop_channel(self) -> None:
        """The broker closed the channel; the next `channel()` opens another."""
        self._channel = None

    def forget(self) -> None:
        """Drop the connection (broken or not); the next `channel()` connects again."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                connection.close()

    async def close(self) -> None:
        await self.call(self.forget)
        self._thread.shutdown(wait=False)

    def close_blocking(self) -> None:
        self.forget()
        self._thread.shutdown(wait=False)
