"""Envelope -> Panther messages: map, look the account up, compose. No I/O beyond the lookup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from handler.alert import MapStatus
from handler.compose import compose
from handler.enrichment.account import AccountInfo
from handler.envelope import Envelope
from handler.mappers import map_event
from handler.message import PantherMessage

AccountLookup = Callable[[str], AccountInfo]


@dataclass(frozen=True, slots=True)
class Translation:
    status: MapStatus
    messages: tuple[PantherMessage, ...]
    reason: str = ""
    account: AccountInfo | None = None


def translate(envelope: Envelope, lookup: AccountLookup) -> Translation:
    result = map_event(envelope)
    if not result.alerts:
        return Translation(result.status, (), result.reason)
    account = lookup(envelope.account)
    # An alert about another account than the envelope's (the coverage watchdog's) names that one.
    messages = tuple(
        compose(envelope, alert, lookup(alert.account) if alert.account else account)
        for alert in result.alerts
    )
    return Translation(result.status, messages, result.reason, account)
