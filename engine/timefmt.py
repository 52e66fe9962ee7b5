"""Times as people read and write them: ISO-8601 out, ISO-8601 or "2h" (ago) in."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from engine.durations import parse_duration


def iso(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def parse_time(value: str) -> float:
    """An ISO-8601 date/time (UTC if no zone) or a duration meaning that long ago."""
    try:
        return time.time() - parse_duration(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is neither an ISO-8601 time nor a duration like '2h'"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
