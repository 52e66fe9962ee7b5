"""Durations as users write them in TOML: "500ms", "2s", "10m", "1h", "1d"."""

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration(value: str | int | float) -> float:
    """Seconds for a duration; bare numbers are seconds."""
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    match = _PATTERN.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration; write e.g. '500ms', '2s', '10m', '1h'")
    return float(match.group(1)) * _UNITS[match.group(2)]
