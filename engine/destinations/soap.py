"""SOAP destination: call one operation of the partner's WSDL with the payload as its string.

zeep is synchronous: each call runs in a thread, and the client (the parsed WSDL) is built
once, on the first send that reaches the partner, and kept. SOAP faults: Client (1.1) or
Sender (1.2) is the message's fault, fatal; Server/Receiver and anything else, transient.
A refused connection is unreachable; timeouts and other transport troubles are transient.
"""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import Transport

from engine.config import SoapDestination
from engine.destinations.base import SendResult
from engine.destinations.fhir_create import status_verdict
from engine.pipeline.items import Claimed

_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")
FATAL_FAULTS = ("client", "sender")


class SoapSender:
    def __init__(self, config: SoapDestination):
        self._config = config
        self._operation: Any = None  # the bound operation, once the WSDL has been read
        self._lock = threading.Lock()

    async def send(self, payload: bytes, item: Claimed) -> SendResult:
        try:
            text = _text(payload)
        except (UnicodeDecodeError, LookupError) as exc:
            return SendResult("fatal", f"the payload is not text: {exc}")
        return await asyncio.to_thread(self._call, text)

    def _call(self, text: str) -> SendResult:
        where = self._config.wsdl
        try:
            operation = self._bound()
            answer = operation(text)
        except zeep.exceptions.Fault as exc:
            return _fault(exc)
        except requests.exceptions.ConnectionError as exc:
            if isinstance(exc, requests.exceptions.ConnectTimeout) or "refused" not in str(exc):
                return SendResult("transient", f"connection to {where} failed: {exc}")
            return SendResult("unreachable", f"cannot connect to {where}: {exc}")
        except requests.exceptions.Timeout:
            return SendResult("transient", f"no answer within {self._config.timeout:g}s ({where})")
        except zeep.exceptions.TransportError as exc:
            detail = f"HTTP {exc.status_code} from {where}"
            return SendResult(status_verdict(exc.status_code), detail, exc.content or None)
        except _ConfigurationProblem as exc:
            return SendResult("fatal", str(exc))
        except (zeep.exceptions.Error, requests.RequestException, etree.LxmlError, OSError) as exc:
            return SendResult("transient", f"SOAP call failed: {exc!r}")
        return SendResult("ok", f"{self._config.operation} answered {answer!s:.200}")

    def _bound(self) -> Any:
        with self._lock:
            if self._operation is None:
                self._operation = self._operation_of(
                    zeep.Client(self._config.wsdl, transport=self._transport())  # type: ignore[no-untyped-call]
                )
            return self._operation

    def _operation_of(self, client: zeep.Client) -> Any:
        config = self._config
        try:
            service = (
                client.bind(config.service or None, config.port or None)
                if config.service or config.port
                else client.service
            )
            return getattr(service, config.operation)
        except (AttributeError, ValueError, KeyError, zeep.exceptions.Error) as exc:
            raise _ConfigurationProblem(
                f"the WSDL {config.wsdl} has no operation {config.operation!r}"
                f" in service {config.service!r}, port {config.port!r}: {exc}"
            ) from None

    def _transport(self) -> Transport:
        session = requests.Session()
        tls = self._config.tls
        if tls is not None and tls.enabled:
            session.verify = tls.ca or tls.verify
            if tls.cert:
                session.cert = (tls.cert, tls.key) if tls.key else tls.cert
        return Transport(  # type: ignore[no-untyped-call]
            session=session, timeout=self._config.timeout, operation_timeout=self._config.timeout
        )

    async def close(self) -> None:
        return None


class _ConfigurationProblem(Exception):
    """The WSDL has no such service, port or operation: every message would fail."""


def _fault(fault: zeep.exceptions.Fault) -> SendResult:
    code = str(fault.code or "")
    local = code.rpartition(":")[2].split(".")[0].lower()  # soap11env:Client.Auth → client
    verdict = "fatal" if local in FATAL_FAULTS else "transient"
    return SendResult(verdict, f"SOAP fault {code}: {fault.message}")  # type: ignore[arg-type]


def _text(payload: bytes) -> str:
    """The payload as a string: in the encoding its XML declaration names, else UTF-8."""
    declared = _DECLARED.match(payload)
    encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    return payload.decode(encoding)
