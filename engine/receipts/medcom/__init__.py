"""MedCom receipts: what we answer a received letter with, and reading the receipts we get.

EDIFACT CONTRL (CTL03 positive, CTL02 negative), OIOXML (XCTL03, XCTL02) and the FHIR
Acknowledgement. Pure functions: bytes or dicts in and out, timestamps passed in, ids derived
from what was received, so a duplicate always gets the identical receipt.
"""

from __future__ import annotations

from engine.receipts.medcom.edifact_receipt import (
    build_ctl02,
    build_ctl03,
    edifact_receipt,
)
from engine.receipts.medcom.fhir_acknowledgement import build_acknowledgement, needs_acknowledgement
from engine.receipts.medcom.reading import read_receipt
from engine.receipts.medcom.verdict import ReceiptVerdict
from engine.receipts.medcom.xml_receipt import build_xctl02, build_xctl03, xml_receipt

__all__ = [
    "ReceiptVerdict",
    "build_acknowledgement",
    "build_ctl02",
    "build_ctl03",
    "build_xctl02",
    "build_xctl03",
    "edifact_receipt",
    "needs_acknowledgement",
    "read_receipt",
    "xml_receipt",
]
