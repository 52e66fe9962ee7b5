"""FHIR R4 (MedCom messaging): Bundles in JSON or XML as plain dicts, metadata, checks.

Resources are kept as the JSON structure (dicts and lists): FHIRPath evaluates on that,
mappings build it, and fhir.resources (R4B models) validates the structure on request.
"""

from __future__ import annotations

from engine.formats.fhir.checks import bundle_problems, structure_problems
from engine.formats.fhir.metadata import extract_metadata
from engine.formats.fhir.parser import FHIR_NS, FHIRError, parse_fhir

__all__ = [
    "FHIR_NS",
    "FHIRError",
    "bundle_problems",
    "extract_metadata",
    "parse_fhir",
    "structure_problems",
]
