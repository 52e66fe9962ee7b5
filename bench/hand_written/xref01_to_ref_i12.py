"""What mappings/xref01-to-ref-i12 does, written directly in Python: a GP's MedCom XREF01
hospital referral (OIOXML 2005-08-07) as an HL7 v2.5 REF^I12 for the EPJ, UTF-8."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from engine.mapping.filters import cpr_digits, medcom_to_hl7_datetime
from engine.pipeline.view import MessageView

FIXTURE = "fixtures/oioxml/xref01_referral.xml"

MEDCOM = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"
M = {"m": MEDCOM}
SENDER, RECEIVER, CC_RECEIVER, REFER, REFERRAL_ADDITIONAL, ADDITIONAL, CLINICAL = (
    f"{{{MEDCOM}}}{name}"
    for name in (
        "Sender",
        "Receiver",
        "AnswerCCReceiver",
        "Refer",
        "ReferralAdditional",
        "AdditionalInformation",
        "RelevantClinicalInformation",
    )
)
NOT_TEXT = {f"{{{MEDCOM}}}Priority", f"{{{MEDCOM}}}ReferralStatus"}

# The concept maps (conceptmaps/*.csv), as the mapping reads them; coded elements (CE/CWE)
# already as HL7 components: code^text^table.
LETTER_STATUS = {"nytbrev": "I12", "rettetbrev": "I13"}
PRIORITY = {
    "akut": "S^STAT^HL70280",
    "saerlige_forhold": "A^ASAP^HL70280",
    "elektiv": "R^Routine^HL70280",
}
REFERRAL_CATEGORY = {"indlaeggelse": "I^Inpatient^HL70284", "ambulant": "O^Outpatient^HL70284"}
PROVIDER_ROLE = {
    SENDER: "RP^Referring provider^HL70286",
    RECEIVER: "RT^Referred to provider^HL70286",
    CC_RECEIVER: "CC^Copy of answer^L",
}
IDENTIFIER_TYPE = {
    "ydernummer": "YDERNR",
    "sorkode": "SOR",
    "sygehusafdelingsnummer": "SHAK",
    "lokationsnummer": "EAN",
    "kommunenummer": "KOMNR",
}
TELEPHONE = {"fastnet": ("PRN", "PH"), "mobil": ("PRN", "CP"), "arbejde": ("WPN", "PH")}
RELATIONSHIP = {
    "mor": "MTH^Mother^HL70063",
    "far": "FTH^Father^HL70063",
    "barn": "CHD^Child^HL70063",
    "uspec_paaroerende": "OTH^Other^HL70063",
}
DIAGNOSIS_SYSTEM = {"SKSdiagnosekode": "SKS", "ICPCkode": "ICPC", "uspecificeretkode": "L"}
DIAGNOSIS_TYPE = {
    "henv_diagnose": "A",
    "aktionsdiagnose": "A",
    "bidiagnose": "W",
    "tillaegsdiagnose": "W",
    "uspec_diagnose": "W",
    "midlertidig_diagnose": "W",
    "forloebsdiagnose": "W",
}
TEXT_SECTION = {  # section → (NTE-4 comment type, heading of its first line)
    "Transport": ("RE^Transport^HL70364", "Transport"),
    "Supplementary": ("RE^Supplerende oplysninger^HL70364", "Supplerende oplysninger"),
    "ClinicalReason": ("1R^Henvisningsårsag^HL70364", "Henvisningsårsag"),
    "Cave": ("RE^Cave^HL70364", "Cave"),
    "Anamnesis": ("RE^Anamnese^HL70364", "Anamnese"),
    "Examination": ("RE^Undersøgelser og fund^HL70364", "Undersøgelser og fund"),
    "ActualMedicine": ("RE^Aktuel medicin^HL70364", "Aktuel medicin"),
}

_ESCAPES = str.maketrans(
    {
        "\\": "\\E\\",
        "|": "\\F\\",
        "^": "\\S\\",
        "&": "\\T\\",
        "~": "\\R\\",
        "\n": "\\.br\\",
        "\r": "\\.br\\",
    }
)


def _mapped(table: dict[str, Any], code: str, name: str) -> Any:
    try:
        return table[code]
    except KeyError:
        raise ValueError(f"code {code!r} is not in concept map {name!r}") from None


def _required(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"{what}: no value, and it is required")
    return value


def _esc(value: str) -> str:
    """One HL7 value: the encoding characters escaped, a line break as \\.br\\."""
    return value.replace("\r\n", "\n").translate(_ESCAPES)


def _join(separator: str, parts: list[str]) -> str:
    """Components (or repetitions, fields) without the trailing empty ones."""
    return separator.join(parts).rstrip(separator)


_WRAPPED = re.compile(r"[ \t\r]*\n\s*")


def _unwrapped(text: str | None) -> str:
    """XML text with a newline written into it (wrapping, indentation) as a space: only
    <Break/> breaks a line of MedCom formatted text."""
    return _WRAPPED.sub(" ", text) if text and "\n" in text else (text or "")


def _inner(node: Any) -> str:
    parts = [_unwrapped(node.text)]
    for child in node:
        if isinstance(child.tag, str):
            name = etree.QName(child).localname
            if name in ("Break", "br"):
                parts.append("\n")
            elif name == "Space":
                parts.append(" ")
            else:
                parts.append(_inner(child))
        parts.append(_unwrapped(child.tail))
    return "".join(parts)


def _flat(node: Any) -> str:
    """An element's text, trimmed: MedCom's <Break/> as a newline, <Space/> as a space, a
    newline in the XML text itself as a space."""
    return _unwrapped(node.text).strip() if not len(node) else _inner(node).strip()


def _text(node: Any, path: str) -> str:
    """The text of the first element at `path` ("" when absent)."""
    found = node.find(path, M)
    return "" if found is None else _flat(found)


def _phone(number: str) -> str:
    return number if not number or number.startswith("+") else "+45" + number


def by_hand(msg: MessageView) -> bytes:
    emessage = msg.parsed
    referral = emessage.find("m:HospitalReferral", M)
    if referral is None:
        raise ValueError("not a hospital referral: no HospitalReferral")

    ean = _required(_text(referral, "m:Sender/m:EANIdentifier"), "Sender/EANIdentifier")
    sent_date = _required(_text(emessage, "m:Envelope/m:Sent/m:Date"), "Envelope/Sent/Date")
    sent = medcom_to_hl7_datetime(sent_date, _text(emessage, "m:Envelope/m:Sent/m:Time"))
    status = _required(_text(referral, "m:Letter/m:StatusCode"), "Letter/StatusCode")
    trigger = _mapped(LETTER_STATUS, status, "letter-status")
    control_id = _required(_text(emessage, "m:Envelope/m:Identifier"), "Envelope/Identifier")
    segments = [
        f"MSH|^~\\&|KANAL|{_esc(ean)}^EAN|EPJ|RHH|{_esc(sent)}||REF^{trigger}^REF_I12|"
        f"{_esc(control_id)}|P|2.5|||AL|NE|DNK|UNICODE UTF-8"
    ]

    # RF1
    priority = _text(referral, "m:AdditionalInformation/m:Priority")
    category = _text(referral, "m:AdditionalInformation/m:ReferralStatus")
    letter_id = _required(_text(referral, "m:Letter/m:Identifier"), "Letter/Identifier")
    authorised_date = _text(referral, "m:Letter/m:Authorisation/m:Date")
    authorised = medcom_to_hl7_datetime(
        _required(authorised_date, "Letter/Authorisation/Date"),
        _text(referral, "m:Letter/m:Authorisation/m:Time"),
    )
    rf1 = [
        "RF1",
        "P^Pending^HL70283",
        _mapped(PRIORITY, priority, "priority") if priority else "",
        "MED^Medical^HL70281",
        "GRF^General referral^HL70282",
        _mapped(REFERRAL_CATEGORY, category, "referral-category") if category else "",
        f"{_esc(letter_id)}^{_esc(ean)}",
        _esc(authorised),
        "",
        "",
        "O^Provider Ordered^HL70336",
    ]
    segments.append(_join("|", rf1))

    # PRD: the sending practice and its doctor, the receiving department, the copy receiver
    for party in referral.iterchildren(SENDER, RECEIVER, CC_RECEIVER):
        segments.append(_provider(party))

    # PID
    cpr = _text(referral, "m:Patient/m:CivilRegistrationNumber")
    patient = referral.find("m:Patient", M)
    family = _required(_text(referral, "m:Patient/m:PersonSurnameName"), "PersonSurnameName")
    given = _text(referral, "m:Patient/m:PersonGivenName")
    phones = []
    if patient is not None:
        for subscriber in patient.findall("m:TelephoneSubscriber", M)[:3]:
            code = _text(subscriber, "m:TelephoneSubscriberCode")
            use, equipment = _mapped(TELEPHONE, code, "telephone-use") if code else ("", "")
            number = _phone(_text(subscriber, "m:TelephoneSubscriberIdentifier"))
            phones.append(_join("^", [_esc(number), use, equipment]))
    pid = [
        "PID",
        "1",
        "",
        f"{_required(cpr_digits(cpr) if cpr else '', 'CivilRegistrationNumber')}^^^CPR^NNDN",
        "",
        _join("^", [_esc(family), _esc(given), "", "", "", "", "L"]),
        "",
        "",
        "",
        "",
        "",
        _address(referral, "m:Patient/m:", "H"),
        "",
        _join("~", phones),
    ]
    segments.append(_join("|", pid))

    # NK1: the (first) relative
    relative = referral.find("m:Relative", M)
    if relative is not None:
        relation = _text(relative, "m:RelationCode")
        identifier = _text(relative, "m:PersonIdentifier")
        nk1 = ["NK1", "1"]
        nk1.append(
            _join(
                "^",
                [
                    _esc(_text(relative, "m:PersonSurnameName")),
                    _esc(_text(relative, "m:PersonGivenName")),
                ],
            )
        )
        nk1.append(_mapped(RELATIONSHIP, relation, "relationship") if relation else "")
        if identifier:
            nk1 += [""] * 29 + [f"{_esc(identifier)}^^^CPR^NNDN"]  # NK1-33
        segments.append(_join("|", nk1))

    # DG1: the referral diagnosis (Refer), then the additional ones
    diagnosis_date = medcom_to_hl7_datetime(authorised_date)
    diagnoses = referral.find("m:Referral", M)
    items = [] if diagnoses is None else diagnoses.iterchildren(REFER, REFERRAL_ADDITIONAL)
    for set_id, item in enumerate(items, 1):
        system = _required(_text(item, "m:DiagnoseTypeCode"), "DiagnoseTypeCode")
        kind = item.findtext("m:DiagnoseDescriptionCode", "", M)
        if item.tag == REFER:
            kind += "henv_diagnose"
        dg1 = [
            "DG1",
            str(set_id),
            "",
            _join(
                "^",
                [
                    _esc(_text(item, "m:DiagnoseCode")),
                    _esc(_text(item, "m:DiagnoseText")),
                    _mapped(DIAGNOSIS_SYSTEM, system, "diagnosis-system"),
                ],
            ),
            "",
            _esc(diagnosis_date),
            _mapped(DIAGNOSIS_TYPE, _required(kind, "diagnosis type"), "diagnosis-type"),
        ]
        segments.append(_join("|", dg1))

    # NTE: the clinical text, one per line, the first line of a section after its heading
    set_id = 0
    for part in referral.iterchildren(ADDITIONAL, CLINICAL):
        for section in part:
            if not isinstance(section.tag, str) or section.tag in NOT_TEXT:
                continue
            text = _flat(section)
            if not text:
                continue
            comment_type, heading = _mapped(
                TEXT_SECTION, etree.QName(section).localname, "text-section"
            )
            for number, line in enumerate(text.split("\n")):
                set_id += 1
                line = line.strip()
                if number == 0:
                    line = f"{heading}: {line}"
                segments.append(_join("|", ["NTE", str(set_id), "P", _esc(line), comment_type]))

    return ("\r".join(segments) + "\r").encode("utf-8")


def _address(node: Any, prefix: str, kind: str) -> str:
    """XAD: street, suburb, city, postal code; DK and the address type beside a value."""
    street = _text(node, prefix + "StreetName")
    postal_code = _text(node, prefix + "PostCodeIdentifier")
    located = street or postal_code
    return _join(
        "^",
        [
            _esc(street),
            _esc(_text(node, prefix + "SuburbName")),
            _esc(_text(node, prefix + "DistrictName")),
            "",
            _esc(postal_code),
            "DK" if located else "",
            kind if located else "",
        ],
    )


def _provider(party: Any) -> str:
    """PRD: role, the referring doctor (or department), address, organisation, phone and
    identifiers (the organisation's own, its EAN, the doctor's)."""
    name = ["", ""] + [""] * 12  # XPN: family, given ... professional suffix (14)
    referrer = party.find("m:Referrer", M)
    if referrer is not None:
        words = _text(referrer, "m:PersonName").split()
        if words:
            name[0], name[1] = _esc(words[-1]), _esc(" ".join(words[:-1]))
        name[13] = _esc(_text(referrer, "m:PersonTitle"))
    else:
        name[1] = _esc(_text(party, "m:DepartmentName"))
    organisation = _text(party, "m:OrganisationName")
    phone = _text(party, "m:TelephoneSubscriberIdentifier")

    identifier = _required(_text(party, "m:Identifier"), "Identifier")
    identifier_code = _text(party, "m:IdentifierCode")
    identifiers = [
        _join(
            "^",
            [
                _esc(identifier),
                _mapped(IDENTIFIER_TYPE, identifier_code, "identifier-type")
                if identifier_code
                else "",
            ],
        )
    ]
    ean = _text(party, "m:EANIdentifier")
    identifiers.append(f"{_esc(ean)}^EAN" if ean else "")
    if referrer is not None:
        referrer_code = _text(referrer, "m:IdentifierCode")
        identifiers.append(
            _join(
                "^",
                [
                    _esc(_text(referrer, "m:Identifier")),
                    _mapped(IDENTIFIER_TYPE, referrer_code, "identifier-type")
                    if referrer_code
                    else "",
                ],
            )
        )
    return _join(
        "|",
        [
            "PRD",
            PROVIDER_ROLE[party.tag],
            _join("^", name),
            _address(party, "m:", "O"),
            f"^^^^^^^^{_esc(organisation)}" if organisation else "",
            f"{_esc(_phone(phone))}^WPN^PH" if phone else "",
            "",
            _join("~", identifiers),
        ],
    )
