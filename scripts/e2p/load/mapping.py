"""The SQS event source mapping, with `concurrency` invocations running at once (the template's
MaximumConcurrency). Each worker stands for one function instance with a runtime of its own.

Records are received in batches of `batch_size`; the ones an invocation returns in its
batchItemFailures come back later with their receive count raised, a batch whose invocation
raised comes back whole, and a record received `max_receives` times and returned again is redriven
(the buffer queue's dead-letter queue). Only the outcome of each record is kept, not the record.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from e2p.load.source import LoadRecord
from e2p.load.tally import collection_bytes
from handler.counters import Count
from handler.decisions import Action
from handler.pipeline import BatchReport

Invoke = Callable[[dict[str, Any]], BatchReport]
FILTERED_PREFIX = "filtered:"


@dataclass
class MappingResult:
    invocations: int = 0
    failed_invocations: int = 0
    retries: int = 0  # records returned for another receive
    filtered: set[str] = field(default_factory=set)  # event ids acknowledged with nothing to send
    dead_lettered: set[str] = field(default_factory=set)  # by the handler (its dead-letter queue)
    redriven: set[str] = field(default_factory=set)  # after max_receives (the buffer's DLQ)
    acked: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # why records were dead-lettered or redriven
    counters: Counter[str] = field(default_factory=Counter)  # the handler's own counts, summed

    def footprint_bytes(self) -> int:
        """What the result holds per event (its sets of event ids), in bytes."""
        return sum(collection_bytes(ids) for ids in (self.filtered, self.dead_lettered, self.redriven))


class EventSourceMapping:
    def __init__(self, source: Iterator[LoadRecord], *, batch_size: int = 10, max_receives: int = 5) -> None:
        self._source = source
        self._exhausted = False
        self._returned: deque[LoadRecord] = deque()
        self._in_flight = 0
        self._batch_size = batch_size
        self._max_receives = max_receives
        self._changed = threading.Condition()
        self.result = MappingResult()

    def run(self, invokers: Sequence[Invoke]) -> MappingResult:
        """One thread per invoker until every record is acknowledged, dead-lettered or redriven."""
        errors: list[BaseException] = []

        def work(invoke: Invoke) -> None:
            try:
                while (batch := self._receive()) is not None:
                    self._invoke(invoke, batch)
            except BaseException as exc:  # noqa: BLE001 -- reported by run(), after the others stop
                errors.append(exc)
                with self._changed:
                    self._exhausted = True
                    self._returned.clear()
                    self._changed.notify_all()

        threads = [threading.Thread(target=work, args=(i,), name=f"load-{n}") for n, i in enumerate(invokers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return self.result

    def _receive(self) -> list[LoadRecord] | None:
        """The next batch: returned records first, then new ones; None when all are done."""
        with self._changed:
            while True:
                batch: list[LoadRecord] = []
                while self._returned and len(batch) < self._batch_size:
                    batch.append(self._returned.popleft())
                while not self._exhausted and len(batch) < self._batch_size:
                    record = next(self._source, None)
                    if record is None:
                        self._exhausted = True
                    else:
                        batch.append(record)
                if batch:
                    self._in_flight += 1
                    for record in batch:
                        record.receives += 1
                    return batch
                if self._in_flight == 0:
                    return None
                self._changed.wait()

    def _invoke(self, invoke: Invoke, batch: list[LoadRecord]) -> None:
        try:
            report = invoke(sqs_event(batch))
        except Exception as exc:  # noqa: BLE001 -- the Lambda runtime reports any crash the same way
            self._settle(batch, None, f"invocation failed: {type(exc).__name__}")
            return
        self._settle(batch, report, "")

    def _settle(self, batch: list[LoadRecord], report: BatchReport | None, crash: str) -> None:
        with self._changed:
            result = self.result
            result.invocations += 1
            decisions = {}
            if report is None:
                result.failed_invocations += 1
            else:
                decisions = dict(report.decisions)
                for name, value in report.counters.items():
                    result.counters[Count(name).value] += value
            failed = set(report.failed_message_ids) if report is not None else {r.message_id for r in batch}
            for record in batch:
                decision = decisions.get(record.message_id)
                if record.message_id in failed:
                    self._return(record, decision.reason if decision else crash)
                elif decision is not None and decision.action is Action.DEAD_LETTER:
                    result.dead_lettered.add(record.event_id)
                    result.reasons[decision.reason] += 1
                else:
                    result.acked += 1
                    if decision is not None and decision.reason.startswith(FILTERED_PREFIX):
                        result.filtered.add(record.event_id)
            self._in_flight -= 1
            self._changed.notify_all()

    def _return(self, record: LoadRecord, reason: str) -> None:
        if record.receives >= self._max_receives:
            self.result.redriven.add(record.event_id)
            self.result.reasons[f"redriven: {reason}"] += 1
        else:
            self.result.retries += 1
            self._returned.append(record)


class QueuedRecord(Protocol):
    """What the Lambda event of an SQS batch is made of (LoadRecord, and the tests' own records)."""

    message_id: str
    body: str
    receives: int


def sqs_event(records: Sequence[QueuedRecord]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": r.message_id,
                "body": r.body,
                "attributes": {"ApproximateReceiveCount": str(r.receives)},
            }
            for r in records
        ]
    }
