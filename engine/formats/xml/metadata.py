"""Routing metadata of a MedCom OIOXML letter (Emessage/Envelope + the letter inside)."""

from __future__ import annotations

from lxml import etree

from engine.formats.metadata import Metadata


def extract_metadata(root: etree._Element, charset: str) -> Metadata:
    namespace = etree.QName(root).namespace or ""
    ns = {"m": namespace} if namespace else {}
    p = "m:" if namespace else ""

    def first(path: str) -> str:
        found = root.xpath(f"string(({path})[1])", namespaces=ns)
        return str(found).strip()

    letter = f"/*/*[{p}Letter]"
    statistical = first(f"{letter}/{p}Letter/{p}StatisticalCode")
    cpr = first(f"{letter}/{p}Patient/{p}CivilRegistrationNumber").replace("-", "")
    return Metadata(
        format="xml",
        type=statistical or etree.QName(root).localname,
        control_id=first(f"{letter}/{p}Letter/{p}Identifier"),
        sender=first(f"{letter}/{p}Sender/{p}EANIdentifier"),
        receiver=first(f"{letter}/{p}Receiver/{p}EANIdentifier"),
        version=first(f"{letter}/{p}Letter/{p}VersionCode"),
        cpr=cpr or None,
        patient_ids=[cpr] if cpr else [],
        charset=charset,
        envelope_id=first(f"/*/{p}Envelope/{p}Identifier") or None,
        receipt_requested=first(f"/*/{p}Envelope/{p}AcknowledgementCode") == "pluspositivkvitt",
    )
