"""Reading the receipts partners send back: CTL01/02/03, XCTL01/02/03, FHIR Acknowledgement.

Field positions are those the builders write (edifact_receipt.py, xml_receipt.py,
fhir_acknowledgement.py), read from MedCom's own files. A negative receipt without a refusal
code is NC, as MedCom's converter writes it (refusal-codes.toml).
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from engine.formats.edifact import EdifactInterchange
from engine.receipts.medcom import ftx
from engine.receipts.medcom.envelope import Elements, from_interchange
from engine.receipts.medcom.fhir_acknowledgement import ACK_EVENT
from engine.receipts.medcom.oioxml import RECEIPT_LETTERS, child, letters, local, text_at
from engine.receipts.medcom.verdict import ReceiptVerdict
from engine.standards.medcom import catalogue

ACCEPTED = "7"  # UCI/UCM action code in pairs/CTL03_1.edi
XML_KINDS = {"PositiveReceipt": "CTL03", "NegativeReceipt": "CTL02", "NegativeVansReceipt": "CTL01"}


def read_receipt(parsed: Any) -> ReceiptVerdict | None:
    """The verdict in a received receipt; None when ``parsed`` is not a receipt.

    ``parsed``: an EdifactInterchange, an lxml root (OIOXML Emessage), a FHIR Bundle dict, or
    engine.formats.sniff.Parsed holding one of them."""
    inner = getattr(parsed, "parsed", parsed)
    if isinstance(inner, EdifactInterchange):
        return _edifact(inner)
    if isinstance(inner, etree._Element):
        return _xml(inner)
    if isinstance(inner, dict):
        return _fhir(inner)
    return None


def _edifact(interchange: EdifactInterchange) -> ReceiptVerdict | None:
    envelope = from_interchange(interchange)
    unh = next((m for m in envelope.letters if m.message_type == "CONTRL"), None)
    if unh is None:
        return None
    segments = {s.tag: _elements(s.elements) for s in reversed(interchange.segments)}
    uci = segments.get("UCI", [])
    refusal = segments.get("FTX")
    kind = unh.statistical_code or _edifact_kind(unh.identifier)
    action = _get(uci, 3)
    positive = action == ACCEPTED if action else kind == "CTL03"
    return ReceiptVerdict(
        format="edifact",
        kind=kind,
        positive=positive,
        refers_to=_get(uci, 0),
        letters=tuple(
            _get(_elements(s.elements), 0) for s in interchange.segments if s.tag == "UCM"
        ),
        refusal_code=None if positive else _refusal(_get(refusal or [], 0)),
        text=ftx.unwrap(refusal[3]) if refusal is not None and len(refusal) > 3 else "",
        receipt_id=envelope.reference,
        sender=envelope.sender.id,
    )


def _edifact_kind(identifier: tuple[str, ...]) -> str:
    version = identifier[4] if len(identifier) > 4 else ""
    found = catalogue().by_edifact("CONTRL", version)
    return found.code if found is not None else "CONTRL"


def _xml(root: etree._Element) -> ReceiptVerdict | None:
    receipt = next((m for m in letters(root) if local(m) in RECEIPT_LETTERS), None)
    if receipt is None:
        return None
    kind = XML_KINDS[etree.QName(receipt).localname]
    positive = kind == "CTL03"
    original = child(receipt, "OriginalEmessage")
    originals = (
        [c for c in original if local(c) == "OriginalLetter"] if original is not None else []
    )
    levels = ([original] if original is not None else []) + originals
    refused = [e for e in levels if _has_refusal(e)]
    code = text_at(refused[0], "RefuseCode") if refused else ""
    return ReceiptVerdict(
        format="xml",
        kind=kind,
        positive=positive,
        refers_to=text_at(receipt, "OriginalEmessage/OriginalEnvelopeIdentifier"),
        letters=tuple(text_at(m, "OriginalLetterIdentifier") for m in originals),
        refusal_code=None if positive else _refusal(code),
        text=_breakable(child(refused[0], "RefuseText")) if refused else "",
        receipt_id=text_at(root, "Envelope/Identifier"),
        sender=text_at(receipt, "Sender/EANIdentifier"),
    )


def _fhir(bundle: dict[str, Any]) -> ReceiptVerdict | None:
    if bundle.get("resourceType") != "Bundle":
        return None
    resources = [e.get("resource") or {} for e in bundle.get("entry", []) if isinstance(e, dict)]
    header = next((r for r in resources if r.get("resourceType") == "MessageHeader"), {})
    response = header.get("response")
    event = (header.get("eventCoding") or {}).get("code")
    if not isinstance(response, dict) and event != ACK_EVENT:
        return None
    response = response if isinstance(response, dict) else {}
    code = str(response.get("code", ""))
    outcome = _outcome(resources, response)
    issues = [i for i in outcome.get("issue", []) if isinstance(i, dict)]
    return ReceiptVerdict(
        format="fhir",
        kind="acknowledgement",
        positive=code == "ok",
        refers_to=str(response.get("identifier", "")),
        response_code=code or None,
        issue_codes=tuple(
            str(c.get("code"))
            for i in issues
            for c in (i.get("details") or {}).get("coding", [])
            if c.get("code")
        ),
        text="\n".join(
            str(t)
            for i in issues
            for t in ((i.get("details") or {}).get("text"), i.get("diagnostics"))
            if t
        ),
        receipt_id=str(bundle.get("id", "")),
        sender=str((header.get("source") or {}).get("endpoint", "")),
    )


def _outcome(resources: list[dict[str, Any]], response: dict[str, Any]) -> dict[str, Any]:
    """The OperationOutcome response.details points at, else the Bundle's first one."""
    reference = str((response.get("details") or {}).get("reference", ""))
    outcomes = [r for r in resources if r.get("resourceType") == "OperationOutcome"]
    for outcome in outcomes:
        if reference and reference.endswith(f"OperationOutcome/{outcome.get('id')}"):
            return outcome
    return outcomes[0] if outcomes else {}


def _refusal(code: str) -> str:
    """The EDIFACT refusal code for an FTX code or RefuseCode; an unknown one is kept."""
    try:
        return catalogue().refusal(code).code
    except KeyError:
        return code.strip()


def _breakable(element: etree._Element | None) -> str:
    """BreakableText: <Break/> is a line break, <Space/> a space."""
    if element is None:
        return ""
    text = element.text or ""
    for part in element:
        text += "\n" if local(part) == "Break" else " " if local(part) == "Space" else ""
        text += part.tail or ""
    return text.strip("\n")


def _has_refusal(element: etree._Element) -> bool:
    return child(element, "RefuseCode") is not None or child(element, "RefuseText") is not None


def _elements(elements: list[Any]) -> Elements:
    return [[str(c) for c in e] if isinstance(e, list) else [str(e)] for e in elements]


def _get(elements: Elements, element: int) -> str:
    values = elements[element] if element < len(elements) else []
    return values[0].strip() if values else ""
