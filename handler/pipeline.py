"""One SQS batch through map -> enrich -> deliver, and the decision for every record.

A record never affects another: each one is parsed, mapped and decided on its own. Its messages go
to the dispatcher as soon as it is mapped (one worker, in order), while the next records are mapped.

With idempotency on (E2P_IDEMPOTENCY_TABLE, wired by the runtime), every message body carries its
idempotency key (handler.idempotency) to the dispatcher, whose sender consults the ledger.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

from handler import decisions
from handler.alert import MapStatus
from handler.constants import TEST_EVENT_SOURCE
from handler.counters import Count, Counters
from handler.coverage.heartbeat import (
    CoverageStoreError,
    Heartbeat,
    HeartbeatSink,
    heartbeat_of,
    is_heartbeat,
)
from handler.decisions import Action, Decision
from handler.delivery.outcome import DeliveryOutcome, DeliveryStatus
from handler.enrichment.account import AccountInfo
from handler.envelope import Envelope, envelope_from_text
from handler.exceptions import DeadLetterError, InvalidEnvelopeError
from handler.idempotency import DUPLICATE_REASON, IN_PROGRESS_REASON, delivery_keys, keyed_body
from handler.mappers import EventMapper, map_event
from handler.mappers.organizations import changes_account_directory
from handler.translate import translate

logger = logging.getLogger(__name__)


class AccountDirectory(Protocol):
    def lookup(self, account_id: str) -> AccountInfo: ...
    def invalidate(self) -> None: ...


class Dispatcher(Protocol):
    def submit(
        self, correlation_id: str, bodies: Sequence[bytes], deadline: float | None
    ) -> Future[list[DeliveryOutcome]]: ...


class DeadLetterSink(Protocol):
    def send(self, body: str, reason: str, event_id: str, receive_count: str) -> None: ...


class IdempotentDelivery(Protocol):
    """The ledger in front of the dispatcher's sender (handler.idempotency.LedgeredSender). Shared by
    invocations, it counts what it sees (store errors); the pipeline takes those counts into the
    batch's after each delivery."""

    def take_counts(self) -> list[tuple[Count, int]]: ...


@dataclass(frozen=True, slots=True)
class Record:
    """The parts of an SQS record the pipeline needs."""

    message_id: str
    body: str
    receive_count: str = "1"


@dataclass(slots=True)
class _Work:
    record: Record
    event_id: str = "-"
    decision: Decision | None = None
    bodies: list[bytes] = field(default_factory=list)
    delivery: Future[list[DeliveryOutcome]] | None = None


@dataclass(frozen=True, slots=True)
class BatchReport:
    failed_message_ids: list[str]
    decisions: list[tuple[str, Decision]]
    counters: Counters

    def lambda_response(self) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": [{"itemIdentifier": mid} for mid in self.failed_message_ids]}


class Pipeline:
    def __init__(
        self,
        directory: AccountDirectory,
        dispatcher: Dispatcher,
        dead_letters: DeadLetterSink,
        *,
        idempotency: IdempotentDelivery | None = None,
        heartbeats: HeartbeatSink | None = None,
        on_directory_change: Callable[[Envelope], None] | None = None,
        mapper: EventMapper = map_event,
    ) -> None:
        """`idempotency`: the ledgered sender the dispatcher sends through, when idempotency is on;
        bodies then carry their keys (computing them costs a digest of each envelope, so not
        when it is off).

        `heartbeats`: where member heartbeats are recorded (the coverage table); a heartbeat is
        then recorded and acknowledged before mapping, never sent to Panther. Without it the
        coverage mapper filters heartbeats."""
        self._directory = directory
        self._dispatcher = dispatcher
        self._dead_letters = dead_letters
        # map_event, or the built-in mappings overridden by the organisation's file (handler.runtime).
        self._mapper = mapper
        self._idempotency = idempotency
        self._heartbeats = heartbeats
        # Told about each account-change event (the runtime asks the directory refresh for the
        # accounts it names); the directory's invalidate() alone only re-reads what it has.
        self._on_directory_change = on_directory_change

    def process(self, records: Sequence[Record], deadline: float | None) -> BatchReport:
        counters = Counters()
        counters.add(Count.RECEIVED, len(records))
        work: list[_Work] = []
        for record in records:
            item = self._prepare(record, counters)
            if item.decision is None and item.bodies:
                # Delivery starts now, while the next records are mapped: mapping a large batch
                # first would leave Panther idle for that long on every invocation.
                item.delivery = self._dispatcher.submit(item.record.message_id, item.bodies, deadline)
            work.append(item)
        self._collect(work, counters)
        return self._finish(work, counters)

    def _prepare(self, record: Record, counters: Counters) -> _Work:
        item = _Work(record)
        try:
            envelope = envelope_from_text(record.body)
        except InvalidEnvelopeError as exc:
            counters.add(Count.INVALID)
            item.decision = decisions.for_invalid_envelope(str(exc))
            return item
        item.event_id = envelope.id
        if envelope.source == TEST_EVENT_SOURCE:
            _log_test_event(envelope)
        if self._heartbeats is not None and is_heartbeat(envelope):
            item.decision = self._record_heartbeat(heartbeat_of(envelope, int(time.time())), counters)
            return item
        if changes_account_directory(envelope):
            # Account created, moved, renamed or tagged: the cached directory is now stale.
            self._directory.invalidate()
            if self._on_directory_change is not None:
                self._on_directory_change(envelope)
        translation = translate(envelope, AccountLookupWithCount(self._directory, counters), self._mapper)
        counters.add(_STATUS_COUNT[translation.status])
        if translation.status is MapStatus.FILTERED:
            item.decision = decisions.for_filtered(translation.reason)
            return item
        if translation.reason:
            logger.info(
                "generic mapping used",
                extra={
                    "event_id": envelope.id,
                    "detail_type": envelope.detail_type,
                    "reason": translation.reason,
                },
            )
        item.bodies = [message.body() for message in translation.messages]
        if self._idempotency is not None:
            keys = delivery_keys(envelope, translation.messages)
            item.bodies = [keyed_body(body, key) for body, key in zip(item.bodies, keys, strict=True)]
        counters.add(Count.MESSAGES, len(item.bodies))
        return item

    def _record_heartbeat(self, heartbeat: Heartbeat, counters: Counters) -> Decision:
        assert self._heartbeats is not None
        try:
            self._heartbeats.record(heartbeat)
        except CoverageStoreError as exc:
            return decisions.for_heartbeat(str(exc))
        counters.add(Count.HEARTBEATS)
        return decisions.for_heartbeat(None)

    def _collect(self, work: list[_Work], counters: Counters) -> None:
        for item in work:
            if item.decision is not None:
                continue
            # A worker only raises on a bug: let it fail the invocation, so SQS retries the batch.
            mine = item.delivery.result() if item.delivery is not None else []
            for outcome in mine:
                _count_outcome(outcome, counters)
            # A message skipped as already delivered is DELIVERED: it counts as done here.
            item.decision = decisions.for_deliveries(mine)
        if self._idempotency is not None:
            for name, value in self._idempotency.take_counts():
                counters.add(name, value)

    def _finish(self, work: list[_Work], counters: Counters) -> BatchReport:
        failed: list[str] = []
        decided: list[tuple[str, Decision]] = []
        for item in work:
            decision = item.decision or Decision(Action.RETRY, "no decision reached")
            if decision.action is Action.DEAD_LETTER:
                try:
                    self._dead_letters.send(
                        item.record.body, decision.reason, item.event_id, item.record.receive_count
                    )
                    counters.add(Count.DEAD_LETTERED)
                except DeadLetterError as exc:
                    decision = decisions.for_dead_letter_failure(str(exc))
            if decision.action is Action.RETRY:
                counters.add(Count.RETRIED)
                failed.append(item.record.message_id)
            self._log(item, decision)
            decided.append((item.record.message_id, decision))
        return BatchReport(failed, decided, counters)

    @staticmethod
    def _log(item: _Work, decision: Decision) -> None:
        extra = {
            "event_id": item.event_id,
            "message_id": item.record.message_id,
            "action": decision.action.value,
            "reason": decision.reason,
        }
        if decision.action is Action.ACK:
            logger.debug("record done", extra=extra)
        elif decision.action is Action.RETRY:
            logger.warning("record returned to the queue for retry", extra=extra)
        else:
            logger.error("record dead-lettered", extra=extra)


def _log_test_event(envelope: Envelope) -> None:
    """`e2p verify` and `e2p send-test-event` look for this line in the function's log group: it
    proves the marked event crossed the member rule, the central bus and the queue to the function,
    whatever Panther then does with it. Only the marks are logged, never the detail as a whole."""
    logger.info(
        "test event arrived",
        extra={
            "event_id": envelope.id,
            "test_id": envelope.text("test_id"),
            "test_account": envelope.account,
            "test_region": envelope.region,
        },
    )


def _count_outcome(outcome: DeliveryOutcome, counters: Counters) -> None:
    counters.add(Count.DELIVERY_ATTEMPTS, outcome.attempts)
    if outcome.reason == DUPLICATE_REASON:
        # Not MessagesDelivered: that counts what this invocation got Panther to accept.
        counters.add(Count.DUPLICATES_SKIPPED)
    elif outcome.reason == IN_PROGRESS_REASON:
        counters.add(Count.IN_PROGRESS_ELSEWHERE)
    elif outcome.status is DeliveryStatus.DELIVERED:
        counters.add(Count.DELIVERED)
    elif outcome.status is DeliveryStatus.DISCARDED:
        counters.add(Count.DISCARDED)
    if outcome.http_status == 401:
        counters.add(Count.AUTH_FAILURES)
        # Panther refuses the very alert that would report this: an error line and the central
        # stack's PantherAuthFailures alarm carry it instead (never the token, only Panther's answer).
        logger.error("Panther refused the API token (HTTP 401)", extra={"reason": outcome.reason})


_STATUS_COUNT = {
    MapStatus.MAPPED: Count.MAPPED,
    MapStatus.GENERIC: Count.GENERIC,
    MapStatus.FILTERED: Count.FILTERED,
    MapStatus.INVALID: Count.INVALID,
}


class AccountLookupWithCount:
    """Looks an account up and counts the ones the directory does not know."""

    def __init__(self, directory: AccountDirectory, counters: Counters) -> None:
        self._directory = directory
        self._counters = counters

    def __call__(self, account_id: str) -> AccountInfo:
        info = self._directory.lookup(account_id)
        if not info.known:
            self._counters.add(Count.ENRICHMENT_MISSES)
        return info
