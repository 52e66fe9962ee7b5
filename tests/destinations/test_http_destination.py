"""HTTP destination against a real HTTP server: 2xx ok, 5xx retried, 4xx dead."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import delivery_count, eventually, hl7, mllp_in

from engine.simulators.mllp_client import send_all


class Receiver(ThreadingHTTPServer):
    """Answers each POST with the next status from `plan` (then 200) and keeps the bodies."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.plan: list[int] = []
        self.bodies: list[bytes] = []
        self.headers_seen: list[dict[str, str]] = []


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = self.server.plan.pop(0) if self.server.plan else 200
        if status == 200:
            self.server.bodies.append(body)
            self.server.headers_seen.append(dict(self.headers))
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def http_destination(port: int) -> str:
    return f"""
[[destination]]
name = "web"
type = "http"
url = "http://127.0.0.1:{port}/inbox"
headers = {{ X-Partner = "municipality" }}
retry = {{ initial = "50ms", max = "100ms" }}
"""


async def test_http_delivery_retries_5xx_and_kills_4xx(start_engine, receiver):
    receiver.plan = [503, 500]  # the first message is refused twice, then accepted
    engine = await start_engine(mllp_in("adt", http_destination(receiver.server_port)))
    port = engine.listeners["adt"].port

    await send_all("127.0.0.1", port, [hl7("WEB-1")])
    await eventually(lambda: delivery_count(engine, "SENT") == 1)
    assert len(receiver.bodies) == 1 and b"WEB-1" in receiver.bodies[0]
    headers = receiver.headers_seen[0]
    assert headers["X-Partner"] == "municipality"
    assert headers["Content-Type"].startswith("x-application/hl7-v2+er7")
    assert headers["X-Kanal-Message-Id"] == "1"

    receiver.plan = [400]  # a client error is fatal: no retry
    await send_all("127.0.0.1", port, [hl7("WEB-2")])
    await eventually(lambda: delivery_count(engine, "DEAD") == 1)
    assert len(receiver.bodies) == 1
