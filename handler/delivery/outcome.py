"""What happened to one message: the only thing the handler needs to decide retry or dead-letter."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"  # Panther stored (or queued) the event
    DISCARDED = "discarded"  # Panther's own rules dropped it on purpose: done, not an error
    RETRYABLE = "retryable"  # may succeed later: leave the record on the queue
    PERMANENT = "permanent"  # will fail the same way again: dead-letter it with the reason


DONE_STATUSES = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.DISCARDED})


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """The result of `PantherClient.send`.

    attempts: HTTP requests made (0 when nothing was sent, e.g. the deadline had already passed).
    http_status: Panther's last HTTP status, None when no response was read.
    reason: short, human-readable, never the token or the body.
    latency_ms: time spent in send(), waits between attempts included.
    """

    status: DeliveryStatus
    attempts: int
    http_status: int | None
    reason: str
    latency_ms: float

    @property
    def done(self) -> bool:
        """True when the message needs no further delivery (delivered, or discarded by Panther)."""
        return self.status in DONE_STATUSES
