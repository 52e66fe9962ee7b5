"""Routing metadata of a MedCom OIOXML letter (Emessage/Envelope + the letter inside)."""

from __future__ import annotations

from lxml import etree

from engine.formats.metadata import Metadata


def extract_metadata(root: etree._Element, charset: str) -> Metadata:
    # By local name: MedCom's municipality letters mix two namespace versions in one
    # document (urn:oio:medcom:municipality:1.0.0 and 1.0.3), so the root's namespace
    # does not name every element.
    def first(path: str) -> str:
        steps = "/".join(f"*[local-name()='{step}']" for step in path.split("/"))
        found = root.xpath(f"string(({LETTER}/{steps})[1])")
        return str(found).strip()

    def sor(party: str) -> str:
        return first(f"{party}/Identifier") if first(f"{party}/IdentifierCode") == "sorkode" else ""

    statistical = first("Letter/StatisticalCode")
    # a replacement CPR where the patient has none (AlternativeIdentifier, 10 characters)
    cpr = first("Patient/CivilRegistrationNumber").replace("-", "") or first(
        "Patient/AlternativeIdentifier"
    )
    envelope = root.xpath("string(/*/*[local-name()='Envelope']/*[local-name()='Identifier'])")
    acknowledgement = root.xpath(
        "string(/*/*[local-name()='Envelope']/*[local-name()='AcknowledgementCode'])"
    )
    return Metadata(
        format="xml",
        type=statistical or etree.QName(root).localname,
        control_id=first("Letter/Identifier"),
        sender=first("Sender/EANIdentifier"),
        receiver=first("Receiver/EANIdentifier"),
        version=first("Letter/VersionCode"),
        cpr=cpr or None,
        patient_ids=[cpr] if cpr else [],
        charset=charset,
        envelope_id=str(envelope).strip() or None,
        receipt_requested=str(acknowledgement).strip() == "pluspositivkvitt",
        sender_sor=sor("Sender"),
        receiver_sor=sor("Receiver"),
    )


# The letter: the child of the root that holds a Letter
LETTER = "/*/*[*[local-name()='Letter']]"
