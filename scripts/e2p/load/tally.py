"""What the local Panther received, counted as it arrives (the receiver keeps only recent events).

`PantherTally.observe` is given to LocalPanther as its discard rule: it counts every accepted
event and never discards one. A message is told apart from the other messages of its event by
its identifier, summary, severity and tag; the same message received twice is a duplicate.
What it keeps: one bit per event sent (events seen) and a 16-byte digest per distinct message.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from e2p.load.source import EventIds

MESSAGE_FIELDS = ("identifier", "summary", "severity", "tag")


def message_key(event: Mapping[str, Any]) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for name in ("event_id", *MESSAGE_FIELDS):
        digest.update(str(event.get(name, "")).encode())
        digest.update(b"\0")
    return digest.digest()


class PantherTally:
    def __init__(self, ids: EventIds, events: int) -> None:
        self._lock = threading.Lock()
        self._ids = ids
        self._events = events
        self._messages: set[bytes] = set()
        self._seen = bytearray((events + 7) // 8)  # bit n: the n-th event reached Panther
        self._foreign: set[str] = set()  # event ids the load did not send (none expected)
        self.received = 0
        self.duplicates = 0

    def observe(self, event: Mapping[str, Any]) -> bool:
        key = message_key(event)
        with self._lock:
            self.received += 1
            if key in self._messages:
                self.duplicates += 1
            else:
                self._messages.add(key)
            self._mark(str(event.get("event_id", "")))
        return False  # keep every event: this rule only counts

    def _mark(self, event_id: str) -> None:
        n = self._ids.ordinal(event_id)
        if n is None or n >= self._events:
            self._foreign.add(event_id)
        else:
            self._seen[n >> 3] |= 1 << (n & 7)

    def _was_seen(self, event_id: str) -> bool:
        n = self._ids.ordinal(event_id)
        if n is None or n >= self._events:
            return event_id in self._foreign
        return bool(self._seen[n >> 3] & (1 << (n & 7)))

    @property
    def messages(self) -> int:
        with self._lock:
            return len(self._messages)

    @property
    def events_seen(self) -> int:
        """Distinct events of which Panther received at least one message."""
        with self._lock:
            return int.from_bytes(self._seen, "little").bit_count() + len(self._foreign)

    @property
    def foreign(self) -> int:
        with self._lock:
            return len(self._foreign)

    def accounted(self, elsewhere: Iterable[str]) -> int:
        """Events seen, plus those of `elsewhere` (dead-lettered, filtered) that were not."""
        unseen = set()
        with self._lock:
            for event_id in elsewhere:
                if not self._was_seen(event_id):
                    unseen.add(event_id)
        return self.events_seen + len(unseen)

    def footprint_bytes(self) -> int:
        """What the tally holds (the digests, the bitmap, any foreign ids), in bytes."""
        with self._lock:
            return (
                collection_bytes(self._messages) + sys.getsizeof(self._seen) + collection_bytes(self._foreign)
            )


def collection_bytes(items: Collection[object]) -> int:
    """A set or list and its members (flat members: bytes, str, int)."""
    return sys.getsizeof(items) + sum(sys.getsizeof(item) for item in items)
