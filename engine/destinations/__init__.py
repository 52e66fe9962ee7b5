"""Destination connectors: one module per transport, each with a `send` of the same shape."""

from __future__ import annotations

from engine.config import DirectoryDestination, HttpDestination, MllpDestination
from engine.destinations.base import Destination, SendResult
from engine.destinations.directory import DirectorySender
from engine.destinations.http import HttpSender
from engine.destinations.mllp import MllpSender

__all__ = ["Destination", "SendResult", "open_destination"]


def open_destination(
    config: MllpDestination | HttpDestination | DirectoryDestination,
) -> Destination:
    if isinstance(config, MllpDestination):
        return MllpSender(config)
    if isinstance(config, HttpDestination):
        return HttpSender(config)
    return DirectorySender(config)
