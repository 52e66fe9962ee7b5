"""HTTP destination: POST/PUT the payload; 2xx ok, 429/5xx retry, other 4xx fatal."""

from __future__ import annotations

import httpx

from engine.config import HttpDestination
from engine.destinations.base import SendResult, client_tls
from engine.pipeline.items import Claimed

CONTENT_TYPES = {
    "hl7v2": "x-application/hl7-v2+er7",
    "xml": "application/xml",
    "json": "application/json",
    "edifact": "application/edifact",
}


class HttpSender:
    def __init__(self, config: HttpDestination):
        self._config = config
        verify: bool | object = client_tls(config.tls) or True
        self._client = httpx.AsyncClient(timeout=config.timeout, verify=verify)  # type: ignore[arg-type]

    async def send(self, payload: bytes, item: Claimed) -> SendResult:
        content_type = CONTENT_TYPES.get(item.message["format"], "application/octet-stream")
        charset = item.message.get("charset")
        headers = {
            "Content-Type": f"{content_type}; charset={charset}" if charset else content_type,
            "X-Kanal-Message-Id": str(item.message_id),
        }
        headers.update(self._config.headers)
        try:
            response = await self._client.request(
                self._config.method, self._config.url, content=payload, headers=headers
            )
        except httpx.ConnectError as exc:
            return SendResult("unreachable", f"cannot connect to {self._config.url}: {exc}")
        except httpx.TimeoutException:
            return SendResult(
                "transient", f"no answer from {self._config.url} within {self._config.timeout:g}s"
            )
        except httpx.HTTPError as exc:
            return SendResult("transient", f"HTTP error: {exc!r}")
        return self._classify(response)

    @staticmethod
    def _classify(response: httpx.Response) -> SendResult:
        detail = f"HTTP {response.status_code} {response.reason_phrase}"
        status = response.status_code
        if 200 <= status < 300:
            verdict = "ok"
        elif status == 429 or status >= 500 or status == 408:
            verdict = "transient"
        else:
            verdict = "fatal"
        return SendResult(verdict, detail, response.content or None)  # type: ignore[arg-type]

    async def close(self) -> None:
        await self._client.aclose()
