"""Destination connectors: one module per transport, each with a `send` of the same shape."""

from __future__ import annotations

from engine.config import (
    AmqpDestination,
    DirectoryDestination,
    FhirDestination,
    HttpDestination,
    MllpDestination,
    SoapDestination,
)
from engine.destinations.amqp import AmqpSender
from engine.destinations.base import Destination, SendResult
from engine.destinations.directory import DirectorySender
from engine.destinations.fhir import FhirSender
from engine.destinations.http import HttpSender
from engine.destinations.mllp import MllpSender
from engine.destinations.soap import SoapSender

__all__ = ["Destination", "SendResult", "open_destination"]


def open_destination(
    config: MllpDestination
    | HttpDestination
    | DirectoryDestination
    | FhirDestination
    | SoapDestination
    | AmqpDestination,
) -> Destination:
    if isinstance(config, MllpDestination):
        return MllpSender(config)
    if isinstance(config, HttpDestination):
        return HttpSender(config)
    if isinstance(config, FhirDestination):
        return FhirSender(config)
    if isinstance(config, SoapDestination):
        return SoapSender(config)
    if isinstance(config, AmqpDestination):
        return AmqpSender(config)
    return DirectorySender(config)
