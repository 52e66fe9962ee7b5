"""The destination seam: send one payload, say what happened."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Protocol

from engine.config import TLSConfig
from engine.pipeline.items import Claimed, Verdict


@dataclass(slots=True)
class SendResult:
    verdict: Verdict  # ok | transient | fatal | unreachable
    detail: str = ""
    response: bytes | None = None
    acknowledged: bool = False  # the answer is the partner's positive business receipt


class Destination(Protocol):
    async def send(self, payload: bytes, item: Claimed) -> SendResult:
        """Deliver; never raises for transport problems, it classifies them."""
        ...

    async def close(self) -> None: ...


def client_tls(tls: TLSConfig | None) -> ssl.SSLContext | None:
    """A client TLS context from a destination's `tls` table (None: plain TCP)."""
    if tls is None or not tls.enabled:
        return None
    context = ssl.create_default_context(cafile=tls.ca or None)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.cert:
        context.load_cert_chain(tls.cert, tls.key or None)
    return context
