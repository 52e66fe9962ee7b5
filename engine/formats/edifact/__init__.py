"""MedCom EDIFACT: interchanges read with pydifact, checked, and their metadata extracted.

Everything pydifact does not know about MedCom's files is handled before it sees them:
the character set named in UNB (UNOC is ISO 8859-1, and bytes outside it are refused),
line breaks written into segments (they are not data), and MEDBIN binary objects between
UNO and UNP (raw bytes that would break any segment split).
"""

from __future__ import annotations

from engine.formats.edifact.errors import EdifactError
from engine.formats.edifact.interchange import EdifactInterchange, parse_edifact
from engine.formats.edifact.metadata import extract_metadata

__all__ = ["EdifactError", "EdifactInterchange", "extract_metadata", "parse_edifact"]
