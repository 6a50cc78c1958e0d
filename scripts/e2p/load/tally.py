"""What the local Panther received, counted as it arrives (the receiver keeps only recent events).

`PantherTally.observe` is given to LocalPanther as its discard rule: it counts every accepted
event and never discards one. A message is told apart from the other messages of its event by
its identifier, summary, severity and tag; the same message received twice is a duplicate.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from typing import Any

MESSAGE_FIELDS = ("identifier", "summary", "severity", "tag")


def message_key(event: Mapping[str, Any]) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for name in ("event_id", *MESSAGE_FIELDS):
        digest.update(str(event.get(name, "")).encode())
        digest.update(b"\0")
    return digest.digest()


class PantherTally:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: set[bytes] = set()
        self._event_ids: set[str] = set()
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
            self._event_ids.add(str(event.get("event_id", "")))
        return False  # keep every event: this rule only counts

    @property
    def messages(self) -> int:
        with self._lock:
            return len(self._messages)

    def event_ids(self) -> set[str]:
        with self._lock:
            return set(self._event_ids)
