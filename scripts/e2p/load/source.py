"""The load's SQS records: real sample events cycled, each under a fresh EventBridge id (another
event, as far as anyone can tell), made one at a time so that memory does not grow with N."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class LoadRecord:
    message_id: str
    event_id: str
    body: str
    receives: int = 0


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


def records(samples: Sequence[dict[str, Any]], count: int) -> Iterator[LoadRecord]:
    if not samples:
        raise ValueError("no sample event to send")
    run = uuid.uuid4().hex[:8]
    for n in range(count):
        event_id = str(uuid.uuid4())
        body = json.dumps({**samples[n % len(samples)], "id": event_id}, separators=(",", ":"))
        yield LoadRecord(f"load-{run}-{n:07d}", event_id, body)
