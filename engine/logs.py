"""Structured logs (structlog) to stderr. Log events carry ids and codes, never CPR."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from engine.cpr import mask_cpr_in_text

# CPR-shaped numbers are masked in every log line: a last line of defence for text that
# came from a message (an error quoting a segment, say).


class MaskCpr(logging.Filter):
    """The same for libraries' own log records (stdlib logging)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask_cpr_in_text(record.getMessage()), ()
        return True


def mask_cpr(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: every CPR-shaped number in the event becomes DDMMYY-****."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = mask_cpr_in_text(value)
    return event


def configure(level: str = "info", json: bool = False) -> None:
    numeric = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(stream=sys.stderr, level=numeric, format="%(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskCpr())
    renderer = (
        structlog.processors.JSONRenderer()
        if json
        # Plain tracebacks: rich ones print local variables, which may hold patient data.
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_cpr,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
