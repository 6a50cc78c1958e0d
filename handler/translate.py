"""Envelope -> Panther messages: map, look the account up, compose. No I/O beyond the lookup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from handler.alert import MapStatus
from handler.compose import compose
from handler.enrichment.account import AccountInfo
from handler.envelope import Envelope
from handler.mappers import EventMapper, map_event
from handler.message import PantherMessage

# EventMapper is re-exported for the CLI (e2p map), which takes it from here.
__all__ = ["AccountLookup", "EventMapper", "Translation", "translate"]

AccountLookup = Callable[[str], AccountInfo]


@dataclass(frozen=True, slots=True)
class Translation:
    status: MapStatus
    messages: tuple[PantherMessage, ...]
    reason: str = ""
    account: AccountInfo | None = None
    mapped_by: str = ""  # MapResult.mapped_by: which mapper or mappings entry decided


def translate(envelope: Envelope, lookup: AccountLookup, mapper: EventMapper = map_event) -> Translation:
    """`mapper`: map_event (built-in mappings) or handler.mappers.event_mapper(table) when an
    organisation's mappings file is loaded."""
    result = mapper(envelope)
    if not result.alerts:
        return Translation(result.status, (), result.reason, mapped_by=result.mapped_by)
    account = lookup(envelope.account)
    # An alert about another account than the envelope's (the coverage watchdog's) names that one.
    messages = tuple(
        compose(envelope, alert, lookup(alert.account) if alert.account else account)
        for alert in result.alerts
    )
    return Translation(result.status, messages, result.reason, account, result.mapped_by)
