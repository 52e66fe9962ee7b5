"""uvicorn embedded in the engine's event loop."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from engine.config import ApiSection


class EmbeddedServer(uvicorn.Server):
    """The engine owns SIGINT/SIGTERM; uvicorn must not take them over."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    @property
    def port(self) -> int:
        return int(self.servers[0].sockets[0].getsockname()[1]) if self.servers else 0


def embedded_server(app: FastAPI, api: ApiSection) -> EmbeddedServer:
    tls: dict[str, Any] = {}
    if api.tls is not None and api.tls.enabled:
        tls = {"ssl_certfile": api.tls.cert, "ssl_keyfile": api.tls.key or None}
        if api.tls.ca:
            tls.update(ssl_ca_certs=api.tls.ca, ssl_cert_reqs=ssl.CERT_REQUIRED)
    config = uvicorn.Config(
        app,
        host=api.host,
        port=api.port,
        http="httptools",  # llhttp in C; h11 parses in Python
        log_level="warning",
        lifespan="off",
        **tls,
    )
    return EmbeddedServer(config)
