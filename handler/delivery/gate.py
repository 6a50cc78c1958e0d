"""The delivery workers' admission to Panther: at most the adaptive limit's requests in flight.

The dispatcher keeps `DeliveryConcurrency` workers (the configured maximum); each HTTP attempt
passes this gate, which lets through as many as handler.delivery.aimd allows now and feeds the
answer back to it. A worker backing off between attempts holds no slot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from handler.delivery.aimd import AimdLimit, AimdSettings


class Congestion(StrEnum):
    """What one attempt says about Panther's load (policy.congestion_of decides)."""

    ANSWERED = "answered"  # Panther answered and was not overloaded: the latency counts
    OVERLOADED = "overloaded"  # refused or not answered in time: cut
    UNKNOWN = "unknown"  # nothing learnt (not sent, a stale kept-alive connection, TLS refused)


@dataclass(frozen=True, slots=True)
class Slot:
    epoch: int
    started: float


class ConcurrencyGate:
    """Thread-safe. One per container, shared by every delivery worker (like the connection pool)."""

    def __init__(self, limit: AimdLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._in_flight = 0
        self._waiting = 0
        self._condition = threading.Condition(threading.Lock())

    def __repr__(self) -> str:
        return f"ConcurrencyGate({self._limit!r}, in_flight={self._in_flight})"

    @property
    def limit(self) -> int:
        return self._limit.limit

    @property
    def maximum(self) -> int:
        return self._limit.maximum

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def acquire(self, timeout_s: float | None = None) -> Slot | None:
        """A slot once fewer than the limit are in flight; None when `timeout_s` passed first."""
        with self._condition:
            if not self._has_room():
                self._waiting += 1
                try:
                    if not self._condition.wait_for(self._has_room, timeout_s):
                        return None
                finally:
                    self._waiting -= 1
            self._in_flight += 1
            return Slot(self._limit.epoch, self._clock())

    def release(self, slot: Slot, congestion: Congestion) -> None:
        with self._condition:
            self._in_flight -= 1
            if congestion is Congestion.ANSWERED:
                self._limit.on_answer(self._clock() - slot.started, slot.epoch)
            elif congestion is Congestion.OVERLOADED:
                self._limit.on_overload(slot.epoch)
            # Waking a thread costs even when none waits: only the ones that can go now.
            room = self._limit.limit - self._in_flight
            if self._waiting and room > 0:
                self._condition.notify(min(room, self._waiting))

    def _has_room(self) -> bool:
        return self._in_flight < self._limit.limit


def adaptive_gate(maximum: int) -> ConcurrencyGate:
    """The gate a container's delivery uses: AIMD within `maximum` requests in flight."""
    return ConcurrencyGate(AimdLimit(AimdSettings(maximum=maximum)))
