"""Alerts without floods: twenty messages to a destination that is down give one
"failing" alert, and its return one "recovered" — to the log and to the webhook."""

from __future__ import annotations

import asyncio
import json

from conftest import delivery_count, eventually, hl7, mllp_in, to_mllp

from engine.simulators.mllp_client import send_all


class Webhook:
    """A real HTTP endpoint on loopback that keeps what is posted to it."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> Webhook:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        self.events.append(json.loads(await reader.readexactly(length)))
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


async def test_one_alert_when_a_destination_fails_and_one_when_it_recovers(start_engine, epj):
    webhook = await Webhook().start()
    port = epj.port
    await epj.stop()  # the EPJ is down
    engine = await start_engine(
        mllp_in("adt", to_mllp("epj", port, retry='{ initial = "100ms", max = "200ms" }')),
        f'[api]\nlisten = "127.0.0.1:0"\n[queue]\npoll = "100ms"\n'
        f'[alerts]\nwebhook = "http://127.0.0.1:{webhook.port}/alerts"\n',
    )
    await send_all("127.0.0.1", engine.listeners["adt"].port, [hl7(f"M-{n}") for n in range(20)])
    await eventually(lambda: len(webhook.events) == 1)
    assert webhook.events[0]["event"] == "destination.failing"
    assert (webhook.events[0]["channel"], webhook.events[0]["destination"]) == ("adt", "epj")

    await asyncio.sleep(1.0)  # the outage goes on: no more alerts
    assert len(webhook.events) == 1
    await epj.start()
    await eventually(lambda: delivery_count(engine, "SENT") == 20)
    await eventually(lambda: len(webhook.events) == 2)
    assert webhook.events[1]["event"] == "destination.recovered"
    assert epj.duplicates == 0
