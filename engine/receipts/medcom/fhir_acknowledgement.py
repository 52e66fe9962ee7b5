"""MedCom FHIR Acknowledgement for a received FHIR message Bundle, and when one is owed.

Structure from the acknowledgement IG (fhir/packages/medcom.fhir.dk.acknowledgement#2.0.3.tgz)
and its examples (fhir/examples/acknowledgement/, xml/conversion_service_oioxml_fhir/Flow2-*):

* Bundle, type message, profile medcom-messaging-acknowledgement.
* MessageHeader, profile medcom-messaging-acknowledgementHeader: eventCoding
  acknowledgement-message (terminology 1.4.0 CodeSystem medcom-messaging-eventCodes; the
  brief's "acknowledgement" is the Provenance activity code), one primary destination (no cc),
  response.identifier = the received MessageHeader.id, response.code ok | transient-error |
  fatal-error, response.details -> the OperationOutcome when there is one.
* OperationOutcome, profile medcom-acknowledgement-operationoutcome: SHALL be there when the
  code is not ok (invariant medcom-acknowledgement-1); issue.details.coding from ValueSet
  medcom-acknowledgement-issue-details (standards/medcom/refusal-codes.toml [ack_issue_codes]).
* Two Provenance (governance-for-acknowledgement 1.3): one for the acknowledged message
  (target its MessageHeader, its activity, agent its sender) and one for the acknowledgement
  (activity acknowledgement, agent us, entity role revision -> the acknowledged MessageHeader).
* The two Organizations, copied from the received Bundle: we send (its primary receiver),
  they receive (its sender); endpoints swapped the same way.

Every id is derived from the received Bundle.id and MessageHeader.id (and the verdict), so a
duplicate gets the identical acknowledgement (043_Reliable_Messaging-FHIR: "return the same
MedCom acknowledgement content"). The timestamp is the caller's, for the same reason.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from engine.receipts.medcom.ids import derived_uuid
from engine.standards.medcom import catalogue

ACK_IG = "http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/"
MESSAGING_IG = "http://medcomfhir.dk/ig/messaging/StructureDefinition/"
TERMINOLOGY = "http://medcomfhir.dk/ig/terminology/CodeSystem/"
EVENT_CODES = TERMINOLOGY + "medcom-messaging-eventCodes"
ACTIVITY_CODES = TERMINOLOGY + "medcom-messaging-activityCodes"
DESTINATION_USE = MESSAGING_IG + "medcom-messaging-destinationUseExtension"
ACK_EVENT = (
    "acknowledgement-message"  # standards/medcom message-types.toml [fhir.acknowledgement-message]
)
# The ValueSet's HL7 codes: terminology 2.0.2 names this system (1.4.0 wrote the ValueSet's
# own URL, http://hl7.org/fhir/ValueSet/operation-outcome, where a CodeSystem belongs).
OPERATION_OUTCOME = "http://terminology.hl7.org/CodeSystem/operation-outcome"
BASE = "https://medcomfhir.dk/ig/acknowledgement/"  # fhir/examples/acknowledgement fullUrls
SOR_ENDPOINT = "https://sor2.sum.dsdn.dk/#id="  # every MedCom example endpoint
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
# FHIR IssueType for the OperationOutcome when the caller names none (our choice; MedCom's
# examples use structure and value).
DEFAULT_ISSUE_TYPE = {
    "ok": "informational",
    "transient-error": "transient",
    "fatal-error": "invalid",
}


def needs_acknowledgement(bundle: dict[str, Any]) -> bool:
    """KR1.R: every FHIR message is acknowledged; KR2.R: an acknowledgement never is
    (docs/fhir_communication_Rules_Acknowledgement-EN.md). A message that carries a response
    is an acknowledgement too, whatever its event code says."""
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "message":
        return False
    header = _resource(bundle, "MessageHeader")
    if header is None:
        return True  # a broken message is still acknowledged (negatively)
    event = (header.get("eventCoding") or {}).get("code")
    return event != ACK_EVENT and "response" not in header


def build_acknowledgement(
    bundle: dict[str, Any],
    code: str = "ok",
    *,
    timestamp: datetime,
    issue: str | None = None,
    text: str = "",
    issue_type: str | None = None,
    base: str = BASE,
) -> dict[str, Any]:
    """The Acknowledgement Bundle (JSON-shaped dict) for the received message ``bundle``.

    ``code``: ok, transient-error (the sender resends) or fatal-error. ``issue``: a code of
    MedCom's acknowledgement issue ValueSet (MSG_Mailbox_Out_Of_Operation, MSG_BAD_SYNTAX …);
    it or ``text`` is required unless ok (an OperationOutcome is then included; with ok, only
    if given, e.g. for a duplicate). ``timestamp`` must carry a time zone. ``base`` prefixes
    the fullUrls (MedCom's acknowledgement examples use the IG's canonical URL, as the
    hospitalnotification mapping does for its own IG).

    A received Bundle too broken to name its sender or receiver still gets an answer: a
    missing Organization is made from the endpoint's SOR code (it then lacks the GLN the
    profile wants), a missing MessageHeader.id is answered with the Bundle.id.
    Raises ValueError for an unknown code or issue and for a naive timestamp.
    """
    cat = catalogue()
    if code not in cat.fhir_response_codes:
        raise ValueError(f"response code must be one of {sorted(cat.fhir_response_codes)}")
    if timestamp.tzinfo is None:
        raise ValueError("the timestamp needs a time zone (FHIR instant)")
    if code != "ok" and not issue and not text:
        raise ValueError(f"a {code} acknowledgement needs an issue code or a text")
    details = _issue_coding(issue) if issue else None

    header = _resource(bundle, "MessageHeader") or {}
    received_id = str(header.get("id") or bundle.get("id") or "")
    seed = (str(bundle.get("id", "")), received_id, code, issue or "", text)
    ids = {role: derived_uuid(*seed, role) for role in ("bundle", "header", "outcome", "ack")}

    destination = _primary_destination(header)
    they = _organization(bundle, header.get("sender"), (header.get("source") or {}), seed)
    we = _organization(bundle, destination.get("receiver"), destination, seed)
    them_ref, us_ref = _ref(they), _ref(we)
    received_ref = f"MessageHeader/{received_id}"
    instant = timestamp.isoformat(timespec="seconds")

    response: dict[str, Any] = {"identifier": received_id, "code": code}
    outcome = None
    if details is not None or text:
        outcome = _outcome(ids["outcome"], code, details, text, issue_type)
        response["details"] = {"reference": f"OperationOutcome/{ids['outcome']}"}
    ack_header = {
        "resourceType": "MessageHeader",
        "id": ids["header"],
        "meta": {"profile": [ACK_IG + "medcom-messaging-acknowledgementHeader"]},
        "eventCoding": {"system": EVENT_CODES, "code": ACK_EVENT},
        "destination": [
            {
                "extension": [
                    {
                        "url": DESTINATION_USE,
                        "valueCoding": {
                            "system": TERMINOLOGY + "medcom-messaging-destinationUse",
                            "code": "primary",
                        },
                    }
                ],
                "endpoint": (header.get("source") or {}).get("endpoint") or _endpoint(they),
                "receiver": {"reference": them_ref},
            }
        ],
        "sender": {"reference": us_ref},
        "source": {"endpoint": destination.get("endpoint") or _endpoint(we)},
        "response": response,
    }
    acknowledged = _received_provenance(bundle, received_id)
    resources = [
        ack_header,
        _provenance(
            derived_uuid(*seed, "provenance-received"),
            received_ref,
            acknowledged.get("occurredDateTime") or bundle.get("timestamp") or instant,
            acknowledged.get("activity") or _activity("new-message"),
            them_ref,
            recorded=acknowledged.get("recorded"),
        ),
        _provenance(
            ids["ack"],
            f"MessageHeader/{ids['header']}",
            instant,
            _activity("acknowledgement"),
            us_ref,
            recorded=instant,
            entity=received_ref,
        ),
        we,
        they,
    ]
    if outcome is not None:
        resources.append(outcome)
    return {
        "resourceType": "Bundle",
        "id": ids["bundle"],
        "meta": {"profile": [ACK_IG + "medcom-messaging-acknowledgement"]},
        "type": "message",
        "timestamp": instant,
        "entry": [
            {"fullUrl": f"{base}{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }


# ---------------------------------------------------------------------------------------------


def _issue_coding(issue: str) -> dict[str, str]:
    codes = catalogue().ack_issue_codes
    if issue in codes.codes:
        return {"system": codes.system, "code": issue, "display": codes.codes[issue].display}
    if issue in codes.operation_outcome_codes:
        return {"system": OPERATION_OUTCOME, "code": issue}
    raise ValueError(f"{issue!r} is not in MedCom's acknowledgement issue ValueSet")


def _outcome(
    id_: str, code: str, coding: dict[str, str] | None, text: str, issue_type: str | None
) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if coding is not None:
        details["coding"] = [coding]
    if text:
        details["text"] = text
    return {
        "resourceType": "OperationOutcome",
        "id": id_,
        "meta": {"profile": [ACK_IG + "medcom-acknowledgement-operationoutcome"]},
        "issue": [
            {
                "severity": "information" if code == "ok" else "error",  # as MedCom's examples
                "code": issue_type or DEFAULT_ISSUE_TYPE[code],
                "details": details,
            }
        ],
    }


def _provenance(
    id_: str,
    target: str,
    occurred: str,
    activity: dict[str, Any],
    agent: str,
    *,
    recorded: str | None,
    entity: str | None = None,
) -> dict[str, Any]:
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": id_,
        "meta": {"profile": [MESSAGING_IG + "medcom-messaging-provenance"]},
        "target": [{"reference": target}],
        "occurredDateTime": occurred,
        "recorded": recorded or occurred,
        "activity": copy.deepcopy(activity),
        "agent": [{"who": {"reference": agent}}],
    }
    if entity is not None:
        provenance["entity"] = [{"role": "revision", "what": {"reference": entity}}]
    return provenance


def _activity(code: str) -> dict[str, Any]:
    return {"coding": [{"system": ACTIVITY_CODES, "code": code}]}


def _received_provenance(bundle: dict[str, Any], header_id: str) -> dict[str, Any]:
    """The received message's own Provenance (the one whose target is its MessageHeader)."""
    for resource in _resources(bundle, "Provenance"):
        targets = [t.get("reference", "") for t in resource.get("target", [])]
        if any(t.endswith(f"MessageHeader/{header_id}") for t in targets):
            return resource
    return {}


def _organization(
    bundle: dict[str, Any], reference: Any, holder: dict[str, Any], seed: tuple[str, ...]
) -> dict[str, Any]:
    ref = reference.get("reference", "") if isinstance(reference, dict) else ""
    for entry in bundle.get("entry", []):
        resource = entry.get("resource") or {}
        local = f"{resource.get('resourceType')}/{resource.get('id')}"
        if (
            resource.get("resourceType") == "Organization"
            and ref
            and (ref in (entry.get("fullUrl"), local) or ref.endswith("/" + local))
        ):
            return copy.deepcopy(resource)
    endpoint = str(holder.get("endpoint") or "")
    made: dict[str, Any] = {
        "resourceType": "Organization",
        "id": derived_uuid(*seed, "organization", endpoint),
        "meta": {"profile": [MESSAGING_IG + "medcom-messaging-organization"]},
    }
    if endpoint.startswith(SOR_ENDPOINT):
        made["identifier"] = [{"system": SOR_SYSTEM, "value": endpoint[len(SOR_ENDPOINT) :]}]
    return made


def _endpoint(organization: dict[str, Any]) -> str:
    for identifier in organization.get("identifier", []):
        if identifier.get("system") == SOR_SYSTEM and identifier.get("value"):
            return SOR_ENDPOINT + str(identifier["value"])
    return SOR_ENDPOINT  # nothing to go on: the receiver must fix the address by hand


def _primary_destination(header: dict[str, Any]) -> dict[str, Any]:
    destinations = [d for d in header.get("destination", []) if isinstance(d, dict)]
    for destination in destinations:
        uses = [e.get("valueCoding", {}).get("code") for e in destination.get("extension", [])]
        if "primary" in uses:
            return destination
    return destinations[0] if destinations else {}


def _ref(resource: dict[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def _resource(bundle: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next(iter(_resources(bundle, kind)), None)


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        entry["resource"]
        for entry in bundle.get("entry", [])
        if isinstance(entry, dict)
        and isinstance(entry.get("resource"), dict)
        and entry["resource"].get("resourceType") == kind
    ]
