"""Delivery of Panther messages: one POST per event, retries decided in one place, bounded fan-out."""

from handler.delivery.client import DEADLINE_REASON, PantherClient
from handler.delivery.fanout import Dispatcher, Sender
from handler.delivery.outcome import DeliveryOutcome, DeliveryStatus
from handler.delivery.session import PantherSession, build_session
from handler.delivery.url import validate_panther_url

__all__ = [
    "DEADLINE_REASON",
    "DeliveryOutcome",
    "DeliveryStatus",
    "Dispatcher",
    "PantherClient",
    "PantherSession",
    "Sender",
    "build_session",
    "validate_panther_url",
]
