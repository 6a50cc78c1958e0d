"""The fidelity log: what the local AWS did where AWS would have done something silent.

AWS drops an event without a trace when a target fails and has no dead-letter queue; the local
mode must still let a developer see it. Every such decision is recorded here, thread-safe, and
readable from the process that runs the server.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FidelityEntry:
    kind: str  # e.g. "dropped", "dead-lettered", "refused"
    reason: str  # an EventBridge error code or a short reason
    detail: str  # free text: rule, target, event id


@dataclass
class FidelityLog:
    _entries: list[FidelityEntry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, reason: str, detail: str) -> None:
        with self._lock:
            self._entries.append(FidelityEntry(kind, reason, detail))

    def entries(self) -> list[FidelityEntry]:
        with self._lock:
            return list(self._entries)

    def count(self, kind: str, reason: str | None = None) -> int:
        with self._lock:
            return sum(1 for e in self._entries if e.kind == kind and reason in (None, e.reason))

    def summary(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter((e.kind, e.reason) for e in self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


FIDELITY_LOG = FidelityLog()
