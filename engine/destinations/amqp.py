"""AMQP destination: publish to a RabbitMQ exchange with publisher confirms.

A delivery is SENT only once the broker has confirmed it (the message is then the
broker's: persistent, on a durable queue if the partner declared one). `mandatory`
publishing makes the broker return a message that no queue takes; that is retried,
never silently dropped. Each sender keeps one ConfirmedChannel
(a connection on a thread of its own), opened again after it is lost.

Verdicts: cannot connect, refused login or a missing exchange → unreachable (nothing
could be delivered; attempts are not used up); returned (unroutable), nacked, connection
lost mid-publish or no confirm in time → transient; a routing-key template that fails
for this message → fatal.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import pika
import pika.exceptions
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from engine.config import AmqpDestination
from engine.destinations.base import SendResult, client_tls
from engine.destinations.http import CONTENT_TYPES
from engine.pipeline.items import Claimed
from engine.queue.confirmed import ConfirmedChannel, connection_parameters

_ENV = SandboxedEnvironment(undefined=StrictUndefined)
NOT_FOUND = 404  # AMQP reply code: the exchange does not exist


class AmqpSender:
    def __init__(self, config: AmqpDestination):
        self._config = config
        self._routing_key = _ENV.from_string(config.routing_key)
        parameters = connection_parameters(config.url, config.timeout, client_tls(config.tls))
        self._broker = ConfirmedChannel(parameters, f"amqp-{config.name}")
        where = urlsplit(config.url)
        self._where = f"{where.hostname}:{where.port or ''} exchange {config.exchange!r}"

    async def send(self, payload: bytes, item: Claimed) -> SendResult:
        try:
            routing_key = self._routing_key.render(msg={"id": item.message_id, **item.message})
        except TemplateError as exc:
            return SendResult("fatal", f"routing key template failed: {exc}")
        properties = self._properties(item)
        call = self._broker.call(self._publish, payload, routing_key, properties)
        try:
            # pika times out a blocked connection itself; this only guards against a hang
            return await asyncio.wait_for(call, self._config.timeout * 2)
        except TimeoutError:
            return SendResult("transient", f"no confirm from {self._where} in time")

    def _properties(self, item: Claimed) -> pika.BasicProperties:
        content_type = CONTENT_TYPES.get(item.message["format"], "application/octet-stream")
        return pika.BasicProperties(
            content_type=content_type,
            content_encoding=item.message.get("charset") or None,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=str(item.message_id),
            timestamp=int(time.time()),
            headers={"x-kanal-delivery": item.delivery_id, **self._config.headers},
        )

    def _publish(
        self, body: bytes, routing_key: str, properties: pika.BasicProperties
    ) -> SendResult:
        where = f"{self._where}, routing key {routing_key!r}"
        try:
            channel = self._broker.channel()
        except pika.exceptions.ChannelClosedByBroker as exc:
            return self._channel_refused(exc)
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._broker.forget()
            return SendResult("unreachable", f"cannot connect to {self._where}: {exc!r}")
        try:
            channel.basic_publish(
                self._config.exchange,
                routing_key,
                body,
                properties=properties,
                mandatory=self._config.mandatory,
            )
        except pika.exceptions.UnroutableError:
            return SendResult("transient", f"returned by the broker: no queue takes {where}")
        except pika.exceptions.NackError:
            return SendResult("transient", f"the broker refused (nack) {where}")
        except pika.exceptions.ChannelClosedByBroker as exc:
            return self._channel_refused(exc)
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._broker.forget()
            return SendResult("transient", f"connection lost while publishing to {where}: {exc!r}")
        return SendResult("ok", f"confirmed by {where}")

    def _channel_refused(self, exc: pika.exceptions.ChannelClosedByBroker) -> SendResult:
        self._broker.drop_channel()  # the next send opens another
        detail = f"{self._where}: the broker closed the channel ({exc.reply_code} {exc.reply_text})"
        return SendResult("unreachable" if exc.reply_code == NOT_FOUND else "transient", detail)

    async def close(self) -> None:
        await self._broker.close()
