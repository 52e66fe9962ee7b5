"""RKKP simulator: a SOAP service (spyne) taking quality reports, with its WSDL at ?wsdl.

One operation, `SubmitQualityReport(report: string) -> string`: the report is the XML of
Kanal's RKKP quality report (mappings/xdis01-to-rkkp) and the answer a receipt id derived
from its ReportId, so a resend gets the same receipt. Faults (faults.py) answer SOAP faults:
`Server` while down or for the first N (the sender may try again), `Client` for a reject
(the report itself is refused; resending will not help). Counted by ReportId.

spyne is WSGI: the service runs in a threaded wsgiref server on a thread of its own.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from lxml import etree
from spyne import Application, ServiceBase, Unicode, rpc
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from engine.simulators.faults import Faults, FaultState

NAMESPACE = "urn:kanal:rkkp:service:1"
SERVICE = "RkkpQualityService"
PORT = "RkkpQualityPort"
OPERATION = "SubmitQualityReport"
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

# spyne logs every fault it sends with a traceback; ours are injected on purpose
for _name in ("spyne.application", "spyne.application.client", "spyne.application.server"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


@dataclass
class RkkpSimulator:
    host: str = "127.0.0.1"
    port: int = 0
    faults: Faults = field(default_factory=Faults)
    received: Counter[str] = field(default_factory=Counter)  # ReportId → times accepted
    reports: list[str] = field(default_factory=list)  # accepted, first copy each
    _state: FaultState = field(default_factory=FaultState)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: WSGIServer | None = None
    _thread: threading.Thread | None = None

    async def start(self) -> RkkpSimulator:
        application = WsgiApplication(_application(self))
        self._server = make_server(
            self.host, self.port, application, _ThreadingServer, handler_class=_QuietHandler
        )
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="rkkp simulator", daemon=True
        )
        self._thread.start()
        self._state.arm(self.faults)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await asyncio.to_thread(server.shutdown)
            server.server_close()

    @property
    def wsdl(self) -> str:
        return f"http://{self.host}:{self.port}/?wsdl"

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.received.values() if count > 1)

    def submit(self, report: str) -> str:
        """The operation's body (on a server thread): a receipt id, or a SOAP fault."""
        if self.faults.delay:
            time.sleep(self.faults.delay)
        with self._lock:
            decision = self._state.decide(self.faults, report or "")
            if decision in ("down", "transient"):
                raise Fault("Server", "RKKP is temporarily unavailable; send again later")
            if decision == "fatal":
                raise Fault("Client", "RKKP rejected the quality report")
            report_id = _report_id(report or "")
            if report_id not in self.received:
                self.reports.append(report)
            self.received[report_id] += 1
        return "RKKP-" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"rkkp:{report_id}"))


def _application(simulator: RkkpSimulator) -> Application:
    class RkkpQualityService(ServiceBase):  # type: ignore[misc]
        __service_name__ = SERVICE

        @rpc(Unicode, _returns=Unicode, _body_style="wrapped")  # type: ignore[untyped-decorator]
        def SubmitQualityReport(ctx: Any, report: str | None) -> str:
            return simulator.submit(report or "")

    return Application(
        [RkkpQualityService],
        tns=NAMESPACE,
        name=PORT,
        in_protocol=Soap11(validator="lxml"),
        out_protocol=Soap11(),
    )


def _report_id(report: str) -> str:
    """The report's ReportId; a report we cannot read is refused as the client's fault."""
    try:
        root = etree.fromstring(_DECLARATION.sub("", report, count=1), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise Fault("Client", f"the report is not well-formed XML: {exc}") from None
    found = root.xpath("string(//*[local-name()='ReportId'])")
    if not found:
        raise Fault("Client", "the report has no ReportId")
    return str(found).strip()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass
