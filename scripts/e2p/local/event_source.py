"""Runs the real handler the way Lambda's SQS event source mapping does, for the local mode.

moto cannot run a Python function without Docker (LOCAL-AWS.md), so the local mode polls the
buffer queue itself and calls the handler in this process, keeping the mapping's semantics:
- batches of up to BatchSize records, gathered for at most MaximumBatchingWindowInSeconds;
- at most MaximumConcurrency invocations at once;
- a raised exception or an invalid response fails the whole batch; otherwise only the
  records named in batchItemFailures stay in the queue and every other one is deleted;
- failed records become visible again after the queue's visibility timeout, and SQS's redrive
  policy moves them to the dead-letter queue after maxReceiveCount receives.
Only the visibility timeout is compressed (scaled by `time_scale`) so a local run takes seconds
instead of the minutes the real timeout would take; the order of events is unchanged.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

SQS_RECEIVE_MAX = 10  # ReceiveMessage returns at most 10 messages per call

Invoke = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True, slots=True)
class MappingSettings:
    queue_url: str
    queue_arn: str
    region: str
    batch_size: int = 10
    batching_window_s: float = 0.0
    max_concurrency: int = 2
    visibility_timeout_s: int = 30
    function_name: str = "events2panther"
    function_timeout_s: int = 60
    memory_mb: int = 256


@dataclass(slots=True)
class RunStats:
    invocations: int = 0
    records: int = 0
    deleted: int = 0
    returned: int = 0
    failed_invocations: int = 0
    errors: list[str] = field(default_factory=list)


class LambdaContext:
    """The parts of Lambda's context object the handler reads."""

    def __init__(self, settings: MappingSettings) -> None:
        self.function_name = settings.function_name
        self.memory_limit_in_mb = settings.memory_mb
        self.invoked_function_arn = (
            f"arn:aws:lambda:{settings.region}:000000000000:function:{settings.function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + settings.function_timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def lambda_record(message: Mapping[str, Any], settings: MappingSettings) -> dict[str, Any]:
    """An SQS message as Lambda presents it in the event's Records list."""
    attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": settings.queue_arn,
        "awsRegion": settings.region,
    }


class LocalEventSourceMapping:
    def __init__(
        self, sqs_client: Any, settings: MappingSettings, invoke: Invoke, *, time_scale: float = 0.0
    ) -> None:
        self._sqs = sqs_client
        self._settings = settings
        self._invoke = invoke
        self._time_scale = time_scale
        self._lock = threading.Lock()
        self.stats = RunStats()

    def drain(self, max_seconds: float = 60.0, idle_checks: int = 2) -> RunStats:
        """Invoke until the queue has nothing visible or in flight, or `max_seconds` pass."""
        deadline = time.monotonic() + max_seconds
        idle = 0
        with ThreadPoolExecutor(self._settings.max_concurrency, thread_name_prefix="esm") as pool:
            while time.monotonic() < deadline:
                batches = [self._gather() for _ in range(self._settings.max_concurrency)]
                batches = [b for b in batches if b]
                if not batches:
                    if self._queue_is_empty():
                        idle += 1
                        if idle >= idle_checks:
                            break
                    time.sleep(0.05)
                    continue
                idle = 0
                for future in [pool.submit(self._run_batch, batch) for batch in batches]:
                    future.result()
        return self.stats

    def _gather(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        window_end = time.monotonic() + self._settings.batching_window_s
        while len(messages) < self._settings.batch_size:
            answer = self._sqs.receive_message(
                QueueUrl=self._settings.queue_url,
                MaxNumberOfMessages=min(SQS_RECEIVE_MAX, self._settings.batch_size - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            received = answer.get("Messages", [])
            messages.extend(received)
            if not received and time.monotonic() >= window_end:
                break
        return messages

    def _queue_is_empty(self) -> bool:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._settings.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]) == 0
            and int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 0
        )

    def _run_batch(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [lambda_record(m, self._settings) for m in messages]}
        failed_ids = self._failed_ids(event, {m["MessageId"] for m in messages})
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        retry = [m for m in messages if m["MessageId"] in failed_ids]
        for start in range(0, len(done), SQS_RECEIVE_MAX):
            chunk = done[start : start + SQS_RECEIVE_MAX]
            self._sqs.delete_message_batch(
                QueueUrl=self._settings.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        visible_after = math.ceil(self._settings.visibility_timeout_s * self._time_scale)
        for message in retry:
            self._sqs.change_message_visibility(
                QueueUrl=self._settings.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=visible_after,
            )
        with self._lock:
            self.stats.invocations += 1
            self.stats.records += len(messages)
            self.stats.deleted += len(done)
            self.stats.returned += len(retry)

    def _failed_ids(self, event: dict[str, Any], batch_ids: set[str]) -> set[str]:
        try:
            response = self._invoke(event, LambdaContext(self._settings))
        except Exception as exc:  # noqa: BLE001
            # Lambda treats any error of the function as a failure of the whole batch.
            with self._lock:
                self.stats.failed_invocations += 1
                self.stats.errors.append(f"{type(exc).__name__}: {exc}")
            return batch_ids
        return _partial_failures(response, batch_ids)


def _partial_failures(response: Any, batch_ids: set[str]) -> set[str]:
    """The message ids to keep, by the rules of ReportBatchItemFailures.

    An empty or missing list means success; a malformed response, or an itemIdentifier that is
    empty or not in the batch, makes Lambda treat the whole batch as failed.
    """
    if response is None:
        return set()
    if not isinstance(response, Mapping):
        return batch_ids
    failures = response.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return batch_ids
    ids: set[str] = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not isinstance(item, str) or item not in batch_ids:
            return batch_ids
        ids.add(item)
    return ids
