"""The load's SQS records: real sample events cycled, each under a fresh EventBridge id (another
event, as far as anyone can tell), made one at a time so that memory does not grow with N.

The ids are version-4 UUIDs: 8 random bytes of the run, then the record's ordinal, so that the
tally can keep one bit per event instead of the id (`EventIds.ordinal`)."""

from __future__ import annotations

import functools
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

ORDINAL_BITS: Final = 56  # the low bits of the id (above them: the UUID's variant, then the run)


@dataclass(slots=True)
class LoadRecord:
    message_id: str
    event_id: str
    body: str
    receives: int = 0


@dataclass(frozen=True)
class EventIds:
    """The event ids of one run: `make(n)` for the n-th record, `ordinal(id)` back (None for an id
    this run did not make)."""

    run: bytes = field(default_factory=lambda: os.urandom(8))

    def make(self, n: int) -> str:
        if not 0 <= n < 1 << ORDINAL_BITS:
            raise ValueError(f"ordinal out of range: {n}")
        return str(uuid.UUID(bytes=self.run + n.to_bytes(8, "big"), version=4))

    def ordinal(self, event_id: str) -> int | None:
        try:
            value = uuid.UUID(event_id).int
        except (ValueError, TypeError, AttributeError):
            return None
        if value >> 64 != self._high:
            return None
        low = value & ((1 << 64) - 1)
        if low >> ORDINAL_BITS != 0x80:  # the variant bits set by make(), nothing else
            return None
        return low & ((1 << ORDINAL_BITS) - 1)

    @functools.cached_property
    def _high(self) -> int:
        return uuid.UUID(bytes=self.run + bytes(8), version=4).int >> 64


def envelopes(bodies: Sequence[str]) -> list[dict[str, Any]]:
    """The sample bodies that are JSON objects (anything else could not carry a fresh id)."""
    found = []
    for body in bodies:
        try:
            document = json.loads(body)
        except ValueError:
            continue
        if isinstance(document, dict):
            found.append(document)
    return found


def records(
    samples: Sequence[dict[str, Any]], count: int, ids: EventIds | None = None
) -> Iterator[LoadRecord]:
    if not samples:
        raise ValueError("no sample event to send")
    ids = ids or EventIds()
    run = ids.run.hex()[:8]
    for n in range(count):
        event_id = ids.make(n)
        body = json.dumps({**samples[n % len(samples)], "id": event_id}, separators=(",", ":"))
        yield LoadRecord(f"load-{run}-{n:07d}", event_id, body)
