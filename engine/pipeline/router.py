"""Routing: channel filter, then per destination its filter and mapping.

Pure computation in memory, before the commit: a message and the deliveries it
causes are stored in one transaction, so nothing is ever half-routed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import TemplateError

from engine.config import ChannelConfig, ConfigError
from engine.formats.envelope import EnvelopeError, wrap_vans
from engine.formats.sniff import parse_messages
from engine.mapping.base import Mapping, MappingError
from engine.mapping.loader import load_mapping
from engine.mapping.shortcuts import Computed, compile_value
from engine.pipeline.expressions import Predicate, compile_filter
from engine.pipeline.items import Incoming, PlannedDelivery, Route
from engine.pipeline.view import MessageView
from engine.store.medcom import MEDCOM_FORMATS
from engine.store.schema import MessageStatus


@dataclass(frozen=True)
class DestinationPlan:
    name: str
    when: Predicate
    mapping: Mapping | None
    envelope: str = ""  # "vans": wrap what is sent in a VANSEnvelope
    order_by: Computed | None = None  # the ordering key's template


@dataclass(frozen=True)
class ChannelPlan:
    name: str
    when: Predicate
    destinations: tuple[DestinationPlan, ...]


def compile_channel(
    channel: ChannelConfig, mappings_dir: Path, schema_dir: Path | None = None
) -> ChannelPlan:
    """Compile filters and load mappings once; config errors surface here, not per message."""
    where = f"channel {channel.name!r}"
    return ChannelPlan(
        name=channel.name,
        when=compile_filter(channel.filter.when, f"{where} filter.when"),
        destinations=tuple(
            DestinationPlan(
                name=d.name,
                when=compile_filter(d.when, f"{where} destination {d.name!r} when"),
                mapping=load_mapping(mappings_dir, d.mapping, schema_dir) if d.mapping else None,
                envelope=d.envelope,
                order_by=_order_key(d.order_by, f"{where} destination {d.name!r} order_by"),
            )
            for d in channel.destination
        ),
    )


class Router:
    def __init__(self, plans: dict[str, ChannelPlan]):
        self._plans = plans

    def route(self, incoming: Incoming) -> Route:
        plan = self._plans.get(incoming.channel)
        if plan is None:
            return _error(f"channel {incoming.channel!r} is not configured")
        msg = MessageView(incoming)
        route = Route(status=MessageStatus.ROUTED)
        try:
            if not plan.when(msg):
                return Route(MessageStatus.FILTERED, "channel filter")
            for destination in plan.destinations:
                if not destination.when(msg):
                    continue
                mapping = destination.mapping
                transformed = mapping.apply(msg) if mapping else None
                target = mapping.target if mapping else incoming.meta.format
                if destination.envelope == "vans":
                    transformed = in_vans_envelope(transformed or incoming.raw, incoming)
                route.deliveries.append(
                    PlannedDelivery(
                        destination.name,
                        transformed,
                        correlation_id(incoming, target, transformed),
                        destination.order_by({"msg": msg})[:200] if destination.order_by else None,
                    )
                )
        except (MappingError, EnvelopeError) as exc:
            return _error(str(exc))
        except Exception as exc:  # a filter that raises must not stop the router
            return _error(f"filter failed: {type(exc).__name__}: {exc}")
        if not plan.destinations:
            return Route(MessageStatus.FILTERED, "the channel has no destinations")
        if not route.deliveries:
            return Route(MessageStatus.FILTERED, "no destination filter matched")
        return route


def _order_key(template: str, where: str) -> Computed | None:
    if not template:
        return None
    try:
        return compile_value(template)
    except TemplateError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def in_vans_envelope(payload: bytes, incoming: Incoming) -> bytes:
    """The payload in a VANSEnvelope addressed by the letter's own EAN numbers."""
    meta = parse_messages(payload)[0].meta
    if not (meta.sender and meta.receiver):
        raise EnvelopeError("a VANSEnvelope needs the letter's sender and receiver EAN numbers")
    return wrap_vans(
        payload,
        sender=meta.sender,
        receiver=meta.receiver,
        name=f"MCM:{meta.type or incoming.meta.type}",
        receipt_requested=meta.receipt_requested,
    )


def correlation_id(incoming: Incoming, target: str, transformed: bytes | None) -> str | None:
    """The id a MedCom receipt for this delivery will name: the envelope id (EDIFACT,
    OIOXML), the MessageHeader.id (FHIR). Read from what is sent; None for other formats."""
    if target not in MEDCOM_FORMATS:
        return None
    meta = incoming.meta if transformed is None else parse_messages(transformed)[0].meta
    if meta.format == "fhir":
        return meta.control_id or None
    return meta.envelope_id if meta.format in MEDCOM_FORMATS else None


def _error(reason: str) -> Route:
    return Route(MessageStatus.ERROR, reason)
