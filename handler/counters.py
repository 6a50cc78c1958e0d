"""Counts of what one invocation did; published as CloudWatch metrics by the entry point."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum


class Count(StrEnum):
    RECEIVED = "RecordsReceived"
    INVALID = "RecordsInvalid"
    MAPPED = "RecordsMapped"
    GENERIC = "RecordsGeneric"
    FILTERED = "RecordsFiltered"
    MESSAGES = "MessagesComposed"
    DELIVERED = "MessagesDelivered"
    DISCARDED = "MessagesDiscardedByConsole"
    DELIVERY_ATTEMPTS = "DeliveryAttempts"
    RETRIED = "RecordsRetried"
    DEAD_LETTERED = "RecordsDeadLettered"
    AUTH_FAILURES = "PantherAuthFailures"
    ENRICHMENT_MISSES = "EnrichmentMisses"
    DUPLICATES_SKIPPED = "DuplicatesSkipped"
    IN_PROGRESS_ELSEWHERE = "MessagesInProgressElsewhere"
    IDEMPOTENCY_STORE_ERRORS = "IdempotencyStoreErrors"
    HEARTBEATS = "HeartbeatsRecorded"


class Counters:
    def __init__(self) -> None:
        self._counts: Counter[Count] = Counter()

    def add(self, name: Count, value: int = 1) -> None:
        self._counts[name] += value

    def get(self, name: Count) -> int:
        return self._counts[name]

    def items(self) -> list[tuple[Count, int]]:
        return sorted(self._counts.items())
