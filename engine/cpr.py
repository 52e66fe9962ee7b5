"""CPR numbers out of sight: masked as DDMMYY-**** in lists, pages, receipts and logs."""

from __future__ import annotations

import re

# DDMMYY-NNNN, with or without the hyphen, not part of a longer number
_IN_TEXT = re.compile(r"(?<!\d)([0-3]\d[01]\d\d\d)-?\d{4}(?!\d)")


def mask_cpr(cpr: str | None) -> str:
    """010170-**** : enough to recognise a row, not enough to identify a person."""
    return f"{cpr[:6]}-****" if cpr else ""


def mask_cpr_in_text(text: str) -> str:
    """Free text (a log line, an audit detail, a receipt) with every CPR-shaped number masked."""
    if not any(c.isdigit() for c in text):
        return text
    return _IN_TEXT.sub(r"\1-****", text)
