"""Where every event sent from an organisation account ended up: the demo's promise of no loss."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

SCAN_VISIBILITY_S = 30  # long enough that one scan sees each parked message once
SCAN_ROUNDS_MAX = 1000


@dataclass(frozen=True, slots=True)
class ParkedQueue:
    account: str
    region: str
    url: str


@dataclass(slots=True)
class Accounting:
    sent: set[str]
    panther_events: Sequence[Mapping[str, Any]]
    parked: set[str]
    filtered_ids: set[str]
    messages: list[Mapping[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.messages = [e for e in self.panther_events if e.get("event_id") in self.sent]

    @property
    def delivered(self) -> set[str]:
        return {str(e["event_id"]) for e in self.messages}

    @property
    def dead_lettered(self) -> set[str]:
        return (self.parked & self.sent) - self.delivered

    @property
    def filtered(self) -> set[str]:
        return (self.filtered_ids & self.sent) - self.delivered - self.dead_lettered

    @property
    def lost(self) -> set[str]:
        return self.sent - self.delivered - self.dead_lettered - self.filtered

    @property
    def duplicates(self) -> int:
        """Messages Panther received more than once (the same event's same alert)."""
        seen = Counter((e["event_id"], e.get("node"), e.get("summary")) for e in self.messages)
        return sum(count - 1 for count in seen.values())


def _event_id(body: str) -> str | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return str(parsed.get("id")) if isinstance(parsed, dict) and parsed.get("id") else None


def scan_queue(sqs: Any, url: str) -> set[str]:
    """Event ids of the messages in a queue. Each is hidden for SCAN_VISIBILITY_S once read."""
    ids: set[str] = set()
    for _ in range(SCAN_ROUNDS_MAX):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=SCAN_VISIBILITY_S, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            break
        ids.update(i for i in (_event_id(m["Body"]) for m in messages) if i)
    return ids


def scan_dead_letters(
    sessions: Mapping[str, boto3.Session], endpoint: str, queues: Iterable[ParkedQueue]
) -> set[str]:
    ids: set[str] = set()
    for queue in queues:
        sqs = sessions[queue.account].client("sqs", endpoint_url=endpoint, region_name=queue.region)
        ids |= scan_queue(sqs, queue.url)
    return ids


def member_dead_letter_queues(
    session: boto3.Session, endpoint: str, account: str, regions: Iterable[str]
) -> list[ParkedQueue]:
    """The member rule's DLQs of one account (names are generated: found by listing)."""
    found: list[ParkedQueue] = []
    for region in regions:
        sqs = session.client("sqs", endpoint_url=endpoint, region_name=region)
        for url in sqs.list_queues().get("QueueUrls", []):
            if "DeadLetter" in url.rsplit("/", 1)[-1]:
                found.append(ParkedQueue(account, region, url))
    return found
