"""MedCom catalogue: message types, refusal codes and identifier rules from `standards/medcom/`.

The three TOML files (message-types, refusal-codes, identifiers) are written by us from
MedCom's public specifications and cite, fact by fact, the file each came from. This module
loads them once, validates them strictly (an unknown key is an error, not a silent default),
checks that they are consistent (every FHIR counterpart points back, no version code belongs to
two types) and answers the lookups the formats and receipts need:

* which message type an EDIFACT UNH, an OIOXML letter or a statistical code names;
* which OIOXML RefuseCode an EDIFACT refusal code (SYN, VER, LOK, MID, NC) corresponds to;
* whether a CPR number, replacement CPR, GLN or SOR code is plausible.

Identifier checks return a list of problems rather than raising, because a problem in an
identifier is something to report about a message, not a reason to stop reading it. The
problem texts never repeat the value: CPR numbers are patient data and must not reach logs.
"""

from __future__ import annotations

import calendar
import re
import tomllib
from collections.abc import Iterable
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

# The repository is installed editable, so the catalogue sits beside the engine package:
# <repo>/engine/standards/medcom.py -> <repo>/standards/medcom/
CATALOGUE_DIR = Path(__file__).resolve().parents[2] / "standards" / "medcom"
FILES = ("message-types.toml", "refusal-codes.toml", "identifiers.toml")


class CatalogueError(RuntimeError):
    """The catalogue is missing, unreadable or inconsistent: a packaging or editing mistake
    that must stop start-up, not something to route around per message."""


class _Strict(BaseModel):
    # extra="forbid": a misspelt key in the TOML fails loudly instead of being ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------
# Message types
# ---------------------------------------------------------------------------------------------


class EdifactForm(_Strict):
    """How a message type looks in EDIFACT: UNH S009 = message:directory:version code."""

    message: str  # UNH S009/1: MEDDIS, MEDREF, CONTRL ...
    directory: str | None = None  # S009/2-4: "D:93A:UN"; None where the material does not say
    version_codes: tuple[str, ...] = ()  # MedCom version codes seen in the material
    inferred_version_codes: tuple[str, ...] = ()  # derived by us, never seen in an interchange
    inferred: bool = False  # message/directory are our conclusion, not read from an interchange

    @property
    def all_version_codes(self) -> tuple[str, ...]:
        """Every version code a receiver should recognise, seen or inferred."""
        return self.version_codes + self.inferred_version_codes


class XmlForm(_Strict):
    """One OIOXML form of a message type: a namespace, the letter element and its versions."""

    namespace: str  # full namespace URI (the TOML names it by a key of [namespaces])
    letter_element: str  # the child of Emessage that carries Letter
    version_codes: tuple[str, ...]  # Letter/VersionCode values
    xsd: str | None = None  # schema path under the MedCom material, when there is one
    inferred: bool = False  # letter element or namespace concluded by us


class MessageType(_Strict):
    """A MedCom message type, keyed by its EDIFACT statistical code (BrvStat), e.g. DIS01."""

    code: str
    name_da: str
    name_en: str
    xml_statistical_code: str  # "X" + code, as OIOXML Letter/TypeCode carries it
    evidence: Literal["pair", "sample", "xsd"]
    sources: tuple[str, ...]
    notes: tuple[str, ...] = ()
    edifact: EdifactForm | None = None
    xml: tuple[XmlForm, ...] = ()
    fhir_event_code: str | None = None

    def xml_form(self, namespace: str, version_code: str) -> XmlForm | None:
        """The OIOXML form for this namespace and VersionCode (to name the letter element)."""
        for form in self.xml:
            if form.namespace == namespace and version_code in form.version_codes:
                return form
        return None


class FhirMessage(_Strict):
    """A MedCom FHIR message, keyed by its MessageHeader event code."""

    event_code: str
    name_en: str
    name_da: str | None = None
    statistical_code: str | None = None  # FDIS91, FDIS20, FCTL
    vans_name: str | None = None  # VANSEnvelope Document/Name, e.g. MCM:FDIS91
    vans_version: str | None = None
    ig_package: str | None = None
    sbdh_standard: str | None = None
    counterparts: tuple[str, ...] = ()  # message type codes MedCom maps to and from


# ---------------------------------------------------------------------------------------------
# Refusal and acknowledgement codes
# ---------------------------------------------------------------------------------------------


class Refusal(_Strict):
    """A MedCom refusal reason: EDIFACT FTX code in CTL01/CTL02 and the OIOXML RefuseCode."""

    code: str  # SYN, VER, LOK, MID, NC
    xml_refuse_code: str
    text_da: str
    text_en: str
    evidence: Literal["pair", "converter-xslt"]
    engine_use: str


class FhirResponseCode(_Strict):
    """A FHIR Acknowledgement MessageHeader.response.code and what it means for resending."""

    code: str
    display: str
    text_da: str
    hl7v2_ack: Literal["AA", "AE", "AR"]
    resend: bool
    oioxml_counterpart: str | None = None


class AckIssueCode(_Strict):
    """A MedCom acknowledgement issue code (OperationOutcome.issue.details.coding)."""

    code: str
    display: str
    seen_with: str | None = None  # the response code it accompanies in MedCom's examples


class AckIssueCodes(_Strict):
    system: str
    operation_outcome_codes: tuple[str, ...]
    codes: dict[str, AckIssueCode]


# ---------------------------------------------------------------------------------------------
# Identifier rules
# ---------------------------------------------------------------------------------------------


class CprRules(_Strict):
    name_da: str
    name_en: str
    length: int
    unknown_placeholder: str
    modulus11_enforced: Literal[False]  # see identifiers.toml: the material does not require it
    format: str
    oioxml_elements: tuple[str, ...]
    edifact: str
    fhir_system: str


class ReplacementKind(_Strict):
    name: str
    pattern: str  # regular expression over the whole value; DDMMYY is checked separately
    fhir_system: str


class ReplacementCprRules(_Strict):
    name_da: str
    name_en: str
    length: int
    oioxml_elements: tuple[str, ...]
    legacy_fhir_system: str
    kinds: dict[str, ReplacementKind]


class GlnRules(_Strict):
    name_da: str
    name_en: str
    length: int
    check_digit: Literal["gs1-mod10"]
    danish_prefix: str
    edifact_partner_qualifier: str
    oioxml_elements: tuple[str, ...]
    oioxml_identifier_code: str
    fhir_systems: tuple[str, ...]
    invalid_in_material: tuple[str, ...]


class SorRules(_Strict):
    name_da: str
    name_en: str
    min_digits: int
    max_digits: int
    check_digit: str
    danish_namespace: str
    fhir_system: str
    oioxml_identifier_code: str
    edifact_qualifier: str


class YdernummerRules(_Strict):
    name_da: str
    name_en: str
    usual_digits: int
    fhir_system: str
    oioxml_identifier_code: str
    edifact_qualifier: str


class SksRules(_Strict):
    name_da: str
    name_en: str
    fhir_system: str
    code_pattern: str
    oioxml_diagnose_type_code: str
    department_pattern: str
    department_oioxml_identifier_code: str
    department_edifact_qualifier: str


class MunicipalityRules(_Strict):
    name_da: str
    name_en: str
    digits: int
    oioxml_identifier_code: str
    edifact_qualifier: str
    fhir_system: str
    region_fhir_system: str


class IdentifierRules(_Strict):
    cpr: CprRules
    replacement_cpr: ReplacementCprRules
    gln: GlnRules
    sor: SorRules
    ydernummer: YdernummerRules
    sks: SksRules
    municipality: MunicipalityRules


# ---------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------


class Catalogue(_Strict):
    """Everything in standards/medcom/, validated, with the lookups built over it."""

    folder: Path
    xml_root: str
    namespaces: dict[str, str]
    types: dict[str, MessageType]
    fhir: dict[str, FhirMessage]
    refusals: dict[str, Refusal]
    fhir_response_codes: dict[str, FhirResponseCode]
    ack_issue_codes: AckIssueCodes
    identifiers: IdentifierRules

    @cached_property
    def edifact_index(self) -> dict[tuple[str, str], MessageType]:
        """(UNH message type, version code) -> type, inferred version codes included."""
        return _unique_index(
            ((t.edifact.message, v), t)
            for t in self.types.values()
            if t.edifact is not None
            for v in t.edifact.all_version_codes
        )

    @cached_property
    def xml_index(self) -> dict[tuple[str, str], MessageType]:
        """(namespace URI, Letter/VersionCode) -> type."""
        return _unique_index(
            ((form.namespace, v), t)
            for t in self.types.values()
            for form in t.xml
            for v in form.version_codes
        )

    @cached_property
    def refusals_by_xml(self) -> dict[str, Refusal]:
        """OIOXML RefuseCode -> refusal."""
        return {r.xml_refuse_code: r for r in self.refusals.values()}

    def message_type(self, statistical_code: str) -> MessageType | None:
        """The type for DIS01, XDIS01 (OIOXML) or FDIS91 / "MCM:FDIS91#other" (FHIR/VANS).

        All three spellings occur for the same letter (and pairs/REF06_1.xml even drops the X
        in StatisticalCode), so a caller should not have to know which one it holds."""
        code = statistical_code.strip().upper().removeprefix("MCM:").partition("#")[0]
        if code in self.types:
            return self.types[code]
        if code[:1] in ("X", "F"):
            return self.types.get(code[1:])
        return None

    def by_edifact(self, message: str, version_code: str) -> MessageType | None:
        """The type an EDIFACT UNH names: message type (MEDDIS) and MedCom version (D0133L)."""
        return self.edifact_index.get((message.strip(), version_code.strip()))

    def by_xml(self, namespace: str, version_code: str) -> MessageType | None:
        """The type an OIOXML letter names: root namespace and Letter/VersionCode."""
        return self.xml_index.get((namespace.strip(), version_code.strip()))

    def refusal(self, code: str) -> Refusal:
        """The refusal for an EDIFACT code (SYN …) or an OIOXML RefuseCode (syntaksfejl …).

        An empty code is NC: an XML receipt may omit RefuseCode, and MedCom's converter then
        writes NC (refusal-codes.toml)."""
        key = code.strip()
        found = self.refusals.get(key.upper() or "NC") or self.refusals_by_xml.get(key)
        if found is None:
            known = ", ".join(self.refusals)
            raise KeyError(f"unknown MedCom refusal code {code!r} (known: {known})")
        return found


def _unique_index(
    pairs: Iterable[tuple[tuple[str, str], MessageType]],
) -> dict[tuple[str, str], MessageType]:
    """Build a lookup, refusing a key that two message types claim (the catalogue would then
    route one of them wrongly, silently)."""
    index: dict[tuple[str, str], MessageType] = {}
    for key, message_type in pairs:
        other = index.setdefault(key, message_type)
        if other is not message_type:
            raise CatalogueError(f"{key} belongs to both {other.code} and {message_type.code}")
    return index


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


@cache
def catalogue() -> Catalogue:
    """The catalogue from the repository's standards/medcom/, read once per process."""
    return load(CATALOGUE_DIR)


def load(folder: Path) -> Catalogue:
    """Read and check the catalogue in `folder` (uncached: for tests and tools)."""
    types_raw, refusals_raw, identifiers_raw = (_read(folder, name) for name in FILES)
    _reject_unknown_keys(types_raw, {"xml_root", "namespaces", "types", "fhir"}, FILES[0])
    _reject_unknown_keys(
        refusals_raw, {"refusals", "fhir_response_codes", "ack_issue_codes"}, FILES[1]
    )
    namespaces = _string_table(types_raw.get("namespaces", {}), "message-types.toml [namespaces]")
    data = {
        "folder": folder,
        "xml_root": types_raw.get("xml_root"),
        "namespaces": namespaces,
        "types": {
            code: _message_type(code, raw, namespaces)
            for code, raw in types_raw.get("types", {}).items()
        },
        "fhir": _keyed(types_raw.get("fhir", {}), "event_code"),
        "refusals": _keyed(refusals_raw.get("refusals", {}), "code"),
        "fhir_response_codes": _keyed(refusals_raw.get("fhir_response_codes", {}), "code"),
        "ack_issue_codes": _ack_issue_codes(refusals_raw.get("ack_issue_codes", {})),
        "identifiers": identifiers_raw,
    }
    try:
        result = Catalogue.model_validate(data)
    except ValidationError as exc:
        raise CatalogueError(f"MedCom catalogue in {folder} is not valid:\n{exc}") from exc
    _check_consistency(result)
    return result


def _read(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name
    if not path.is_file():
        raise CatalogueError(
            f"MedCom catalogue file {path} not found: the engine reads standards/medcom/ beside "
            "the engine package, so run from the repository (pip install -e .)"
        )
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path}: {exc}") from exc


def _string_table(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise CatalogueError(f"{where} must map names to strings")
    return dict(raw)


def _keyed(table: Any, key_name: str) -> dict[str, Any]:
    """TOML tables keyed by code -> the same tables with the code inside (for the models)."""
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise CatalogueError(f"expected a table of tables keyed by {key_name}")
    return {key: {**value, key_name: key} for key, value in table.items()}


def _message_type(code: str, raw: dict[str, Any], namespaces: dict[str, str]) -> dict[str, Any]:
    """One [types.X] table, with its namespace names replaced by the namespace URIs."""
    if not isinstance(raw, dict) or not isinstance(raw.get("xml", []), list):
        raise CatalogueError(f"types.{code} must be a table with [[types.{code}.xml]] forms")
    forms = [{**f, "namespace": _namespace(code, f, namespaces)} for f in raw.get("xml", [])]
    return {**raw, "code": code, "xml": forms}


def _namespace(code: str, form: dict[str, Any], namespaces: dict[str, str]) -> str:
    name = form.get("namespace")
    if not isinstance(name, str) or name not in namespaces:
        raise CatalogueError(f"types.{code}: namespace {name!r} is not a key of [namespaces]")
    return namespaces[name]


def _ack_issue_codes(raw: dict[str, Any]) -> dict[str, Any]:
    return {**raw, "codes": _keyed(raw.get("codes", {}), "code")}


def _reject_unknown_keys(raw: dict[str, Any], known: set[str], name: str) -> None:
    unknown = set(raw) - known
    if unknown:
        raise CatalogueError(f"{name}: unknown top-level keys {sorted(unknown)}")


def _check_consistency(cat: Catalogue) -> None:
    """Cross-checks pydantic cannot express: codes agree, FHIR links go both ways, the
    indexes are unambiguous and the identifier patterns compile."""
    for code, message_type in cat.types.items():
        if message_type.xml_statistical_code != f"X{code}":
            raise CatalogueError(f"types.{code}: xml_statistical_code must be X{code}")
        event = message_type.fhir_event_code
        fhir = cat.fhir.get(event) if event is not None else None
        if event is not None and (fhir is None or code not in fhir.counterparts):
            raise CatalogueError(f"types.{code}: fhir.{event} does not list it as a counterpart")
    for event, message in cat.fhir.items():
        for code in message.counterparts:
            if code not in cat.types or cat.types[code].fhir_event_code != event:
                raise CatalogueError(f"fhir.{event}: counterpart {code} does not point back")
    for name, kind in cat.identifiers.replacement_cpr.kinds.items():
        try:
            re.compile(kind.pattern)
        except re.error as exc:
            raise CatalogueError(f"replacement_cpr.kinds.{name}.pattern: {exc}") from exc
    _ = cat.edifact_index, cat.xml_index  # build now, so a clash fails at start-up


# ---------------------------------------------------------------------------------------------
# Module-level lookups on the repository's catalogue
# ---------------------------------------------------------------------------------------------


def message_type(statistical_code: str) -> MessageType | None:
    """See Catalogue.message_type: DIS01, XDIS01 and FDIS91 all find their type."""
    return catalogue().message_type(statistical_code)


def by_edifact(message: str, version_code: str) -> MessageType | None:
    """See Catalogue.by_edifact: the type named by UNH S009 (MEDDIS, D0133L)."""
    return catalogue().by_edifact(message, version_code)


def by_xml(namespace: str, version_code: str) -> MessageType | None:
    """See Catalogue.by_xml: the type named by an OIOXML namespace and Letter/VersionCode."""
    return catalogue().by_xml(namespace, version_code)


def refusal(code: str) -> Refusal:
    """See Catalogue.refusal: SYN/VER/LOK/MID/NC or the OIOXML RefuseCode; KeyError if unknown."""
    return catalogue().refusal(code)


# ---------------------------------------------------------------------------------------------
# Identifier checks
# ---------------------------------------------------------------------------------------------


def check_cpr(value: str) -> list[str]:
    """Problems with `value` as a CPR number; [] when it is plausible.

    Checks the shape (10 digits, the printed DDMMYY-SSSS form accepted) and that DDMMYY is a
    date. Modulus 11 is deliberately not checked: CPR numbers have been issued without it, and
    neither MedCom's schemas nor the FHIR profiles require it, so refusing on it would refuse
    real patients. The texts never contain the number itself."""
    rules = catalogue().identifiers.cpr
    number = _without_cpr_hyphen(value)
    if is_replacement_cpr(number):
        return ["is a replacement CPR (erstatningsnummer), not a CPR number"]
    if len(number) != rules.length or not _digits(number):
        return [f"must be {rules.length} digits (DDMMYY + 4), not {len(number)} characters"]
    if number == rules.unknown_placeholder:
        return [f"{rules.unknown_placeholder} is the placeholder for an unknown CPR number"]
    return _date_problems(number[:6])


def is_replacement_cpr(value: str) -> bool:
    """True for an X-eCPR or D-eCPR (DDMMYY, a kind digit, two capitals, a digit).

    Such a value can never be a CPR number (it has letters), so receivers must route it to
    the replacement identifier (OIOXML AlternativeIdentifier, FHIR eCPR system) instead."""
    return replacement_cpr_kind(value) is not None


def replacement_cpr_kind(value: str) -> str | None:
    """Which replacement CPR `value` is ("x-ecpr" or "d-ecpr"), or None.

    The kind decides the FHIR identifier system (identifiers.toml, from MedCom's XDIS91
    mapping: 7th position 1 or 7 is the national eCPR service, otherwise decentral)."""
    number = _without_cpr_hyphen(value)
    kinds = catalogue().identifiers.replacement_cpr.kinds
    for name, kind in kinds.items():
        if re.fullmatch(kind.pattern, number) and not _date_problems(number[:6]):
            return name
    return None


def check_gln(value: str) -> list[str]:
    """Problems with `value` as a GLN (EAN location number); [] when valid.

    GLNs address every MedCom letter (UNB, EANIdentifier), so a mistyped one sends mail to the
    wrong place or nowhere; the GS1 check digit catches every single-digit typo."""
    rules = catalogue().identifiers.gln
    if len(value) != rules.length or not _digits(value):
        return [f"must be {rules.length} digits, not {len(value)} characters"]
    expected = gs1_check_digit(value[:-1])
    if int(value[-1]) != expected:
        return [f"GS1 check digit is {value[-1]}, expected {expected}"]
    return []


def is_danish_gln(value: str) -> bool:
    """A valid GLN from the Danish GS1 range (57…), as every location in MedCom's material."""
    return not check_gln(value) and value.startswith(catalogue().identifiers.gln.danish_prefix)


def gs1_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for `body` (the digits before the check digit): weights
    3, 1, 3, … from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def check_sor(value: str) -> list[str]:
    """Problems with `value` as a SOR code; [] when plausible.

    Only digits and length are checked (at least 11 digits per the Danish FHIR profile, at
    most 18 as SNOMED CT-style ids). The check digit is not enforced because MedCom's own
    examples contain SOR codes that fail it; see sor_check_digit_ok()."""
    rules = catalogue().identifiers.sor
    if not _digits(value):
        return ["must be digits only"]
    if not rules.min_digits <= len(value) <= rules.max_digits:
        return [f"must be {rules.min_digits}-{rules.max_digits} digits, not {len(value)}"]
    return []


def sor_check_digit_ok(value: str) -> bool:
    """Whether the last digit is a valid Verhoeff check digit (informational only: useful to
    spot a typo in configuration, never a reason to refuse a message)."""
    if not _digits(value):
        return False
    check = 0
    for position, digit in enumerate(reversed(value)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[position % 8][int(digit)]]
    return check == 0


# Verhoeff's dihedral-group tables (multiplication and permutation).
_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 7, 6, 8, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def _digits(value: str) -> bool:
    # str.isdigit() alone accepts superscripts and other scripts' digits.
    return value.isascii() and value.isdigit()


def _without_cpr_hyphen(value: str) -> str:
    """CPR numbers are printed DDMMYY-SSSS; the number is the same without the hyphen."""
    number = value.strip()
    if len(number) == 11 and number[6] == "-":
        return number[:6] + number[7:]
    return number


def _date_problems(ddmmyy: str) -> list[str]:
    """Whether DDMMYY is a date. Without the century only YY % 4 can tell a leap year; that
    holds for every century CPR numbers use except 1900, so 29 February is accepted when YY
    is a multiple of 4."""
    if not _digits(ddmmyy) or len(ddmmyy) != 6:
        return ["the first six characters must be the birth date DDMMYY"]
    day, month, year = int(ddmmyy[:2]), int(ddmmyy[2:4]), int(ddmmyy[4:])
    if not 1 <= month <= 12:
        return ["the month (digits 3-4) is not 01-12"]
    days = calendar.monthrange(2000 if year % 4 == 0 else 2001, month)[1]
    if not 1 <= day <= days:
        return ["the day (digits 1-2) does not exist in that month"]
    return []
