"""The FHIRPath navigation subset gives exactly what fhirpathpy gives, only faster."""

from __future__ import annotations

import json

import fhirpathpy
import pytest
from conftest import FIXTURES, SHARED
from fhirpathpy.models import models

from engine.mapping.fhirpath import _simple_steps, compile_fhirpath

PATHS = [
    "Bundle.entry.resource.ofType(Patient).name.given",
    "Bundle.entry.resource.ofType(Patient).identifier.where(system='urn:oid:1.2.208.176.1.2').value",
    "entry.resource.ofType(Communication).payload.extension.value",
    "entry.resource.ofType(Communication).payload.content",
    "entry[0].resource.id",
    "entry.resource.ofType(MessageHeader).destination.endpoint.first()",
    "entry.resource.ofType(Encounter).period.start",
    "entry.resource.ofType(Provenance).activity.coding.code",
    "Bundle.timestamp",
    "entry.resource.ofType(Organization).identifier.where(system='urn:oid:1.2.208.176.1.1').value",
    "entry.resource.ofType(Patient).identifier"
    ".where(system = 'x' or system = 'urn:oid:1.2.208.176.1.2').value",
    "entry.resource.ofType(Communication).payload.where(contentString.exists()).first().extension"
    ".where(url = 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-datetime-extension')"
    ".value",
    "entry.resource.ofType(Patient).name.first().given.join(' ')",
    "entry.resource.ofType(MessageHeader).destination"
    ".where(extension.value.code = 'primary').endpoint",
    "entry.resource.ofType(Encounter).exists()",
]
BUNDLES = [
    *sorted((SHARED / "medcom" / "fhir" / "examples").glob("*/*.json")),
    FIXTURES / "fhir" / "carecommunication.json",
]


def plain(values):
    return [v if isinstance(v, (dict, list, bool)) else str(v) for v in values]


@pytest.mark.parametrize("path", PATHS)
def test_the_fast_walk_agrees_with_fhirpathpy_on_every_example(path):
    assert _simple_steps(path) is not None  # really the fast walk, not the fallback
    full = fhirpathpy.compile(path, model=models["r4"])
    for bundle_file in BUNDLES:
        bundle = json.loads(bundle_file.read_bytes())
        assert plain(compile_fhirpath(path)(bundle, None)) == plain(full(bundle)), bundle_file.name


def test_other_expressions_fall_back_to_fhirpathpy():
    bundle = json.loads((FIXTURES / "fhir" / "carecommunication.json").read_bytes())
    assert compile_fhirpath("entry.count()")(bundle, None) == [len(bundle["entry"])]
    with pytest.raises(ValueError, match="is not FHIRPath"):
        compile_fhirpath("entry.where(")


def test_resolve_finds_the_referenced_entry_in_the_bundle():
    bundle = json.loads((FIXTURES / "fhir" / "carecommunication.json").read_bytes())
    sender = compile_fhirpath("entry.resource.ofType(MessageHeader).sender.resolve().name")
    [header] = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MessageHeader"
    ]
    organisation = next(
        e["resource"]
        for e in bundle["entry"]
        if f"Organization/{e['resource'].get('id')}" == header["sender"]["reference"]
    )
    assert sender(bundle, None) == [organisation["name"]]
    items = compile_fhirpath("entry.resource.ofType(MessageHeader).sender")(bundle, None)
    assert compile_fhirpath("resolve().id")(items[0], bundle) == [organisation["id"]]
