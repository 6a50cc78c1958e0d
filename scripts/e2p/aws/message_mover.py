"""Moving dead-lettered messages back to the buffer queue without ever losing one.

e2p's own mover: receive a batch, send it to the destination, and delete from the source ONLY the
messages the destination accepted. A failure half-way therefore loses nothing; at worst a message
is delivered twice (sent, then its delete failed), which the handler's idempotency absorbs. Messages
received but not sent are made visible again at once instead of waiting out their visibility
timeout.

SQS's own StartMessageMoveTask is used where it applies: the source must be the dead-letter queue
of another SQS queue (the buffer DLQ is; the central rule's DLQ, written by EventBridge, is not),
the backend must implement it, and no --max may be asked for (a task cannot stop at N).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from e2p.aws.polling import Poller
from e2p.aws.sessions import error_text

SQS_BATCH: Final = 10
# Long enough for one batch to be sent and deleted; released at once on failure anyway.
VISIBILITY_TIMEOUT_SECONDS: Final = 60
# A long poll asks every SQS server, so an empty answer means the queue has no visible message.
WAIT_SECONDS: Final = 1
# EventBridge's target dead-letter messages carry why delivery failed (EventBridge User Guide).
ERROR_CODE_ATTRIBUTE: Final = "ERROR_CODE"
TASK_DONE: Final = frozenset({"COMPLETED", "CANCELLED", "FAILED"})
# SQS's error for a batch whose total size is over the limit (query and JSON protocol spellings).
BATCH_TOO_LONG_CODES: Final = frozenset({"BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong"})

Progress = Callable[[int], None]


@dataclass
class MoveReport:
    source: str
    destination: str
    method: str
    moved: int = 0
    failed: int = 0
    error: str = ""
    # Sent but not deleted from the source: will be moved again next time (a duplicate, not a loss).
    duplicates_possible: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.error

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "method": self.method,
            "moved": self.moved,
            "failed": self.failed,
            "duplicates_possible": self.duplicates_possible,
            "error": self.error,
            "error_codes": dict(self.error_codes),
        }


def _copyable_attributes(message: dict[str, Any]) -> dict[str, Any]:
    """Message attributes in the shape SendMessage takes (receive adds list fields it refuses)."""
    copied = {}
    for name, attribute in (message.get("MessageAttributes") or {}).items():
        value = {"DataType": attribute["DataType"]}
        for key in ("StringValue", "BinaryValue"):
            if key in attribute:
                value[key] = attribute[key]
        copied[name] = value
    return copied


class MessageMover:
    def __init__(
        self,
        source: Any,
        source_url: str,
        destination: Any,
        destination_url: str,
        *,
        wait_seconds: int = WAIT_SECONDS,
        visibility_timeout: int = VISIBILITY_TIMEOUT_SECONDS,
    ) -> None:
        self._source = source
        self._source_url = source_url
        self._destination = destination
        self._destination_url = destination_url
        self._wait = wait_seconds
        self._visibility = visibility_timeout

    def move(self, limit: int | None = None, progress: Progress | None = None) -> MoveReport:
        report = MoveReport(self._source_url, self._destination_url, "e2p mover")
        while limit is None or report.moved + report.failed < limit:
            wanted = SQS_BATCH if limit is None else min(SQS_BATCH, limit - report.moved - report.failed)
            try:
                messages = self._receive(wanted)
            except (ClientError, BotoCoreError) as exc:
                report.error = f"receive from the source failed: {error_text(exc)}"
                break
            if not messages:
                break
            if not self._move_batch(messages, report):
                break
            if progress is not None:
                progress(report.moved)
        return report

    def _receive(self, count: int) -> list[dict[str, Any]]:
        response = self._source.receive_message(
            QueueUrl=self._source_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=self._wait,
            VisibilityTimeout=self._visibility,
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _move_batch(self, messages: list[dict[str, Any]], report: MoveReport) -> bool:
        """Send then delete one batch; False when the run must stop (the destination refuses)."""
        for message in messages:
            code = (message.get("MessageAttributes") or {}).get(ERROR_CODE_ATTRIBUTE, {}).get("StringValue")
            if code:
                report.error_codes[code] += 1
        entries = [
            {
                "Id": str(index),
                "MessageBody": message["Body"],
                "MessageAttributes": _copyable_attributes(message),
            }
            for index, message in enumerate(messages)
        ]
        try:
            response = self._send(entries)
        except (ClientError, BotoCoreError) as exc:
            # Nothing of this batch reached the destination: all of it stays in the source.
            self._release(messages)
            report.failed += len(messages)
            report.error = f"send to the destination failed: {error_text(exc)}"
            return False
        sent = {entry["Id"] for entry in response.get("Successful", [])}
        refused = response.get("Failed", [])
        delivered = [m for index, m in enumerate(messages) if str(index) in sent]
        kept = [m for index, m in enumerate(messages) if str(index) not in sent]
        report.moved += len(delivered)
        report.duplicates_possible += self._delete(delivered)
        if kept:
            self._release(kept)
            report.failed += len(kept)
            report.error = "the destination refused: " + "; ".join(
                sorted({f"{f.get('Code', '')} {f.get('Message', '')}".strip() for f in refused})
            )
            return False
        return True

    def _send(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """SendMessageBatch; one SendMessage per entry when the batch is over SQS's size limit.

        SQS limits the sum of a batch's bodies (and attributes) to the largest single message
        (BatchRequestTooLong): ten large dead letters fit one by one but not together.
        """
        try:
            response: dict[str, Any] = self._destination.send_message_batch(
                QueueUrl=self._destination_url, Entries=entries
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in BATCH_TOO_LONG_CODES:
                raise
            return self._send_one_by_one(entries)
        return response

    def _send_one_by_one(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        successful: list[dict[str, str]] = []
        failed: list[dict[str, str]] = []
        for entry in entries:
            try:
                self._destination.send_message(
                    QueueUrl=self._destination_url,
                    MessageBody=entry["MessageBody"],
                    MessageAttributes=entry["MessageAttributes"],
                )
            except ClientError as exc:
                error = exc.response.get("Error", {})
                failed.append(
                    {
                        "Id": entry["Id"],
                        "Code": str(error.get("Code", "")),
                        "Message": str(error.get("Message", "")),
                    }
                )
                continue
            successful.append({"Id": entry["Id"]})
        return {"Successful": successful, "Failed": failed}

    def _delete(self, messages: list[dict[str, Any]]) -> int:
        """Delete what was delivered; returns how many could not be deleted (possible duplicates)."""
        if not messages:
            return 0
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        try:
            response = self._source.delete_message_batch(QueueUrl=self._source_url, Entries=entries)
        except (ClientError, BotoCoreError):
            return len(messages)
        return len(response.get("Failed", []))

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Make messages visible again now; if that fails they reappear after the visibility timeout."""
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages)
        ]
        try:
            self._source.change_message_visibility_batch(QueueUrl=self._source_url, Entries=entries)
        except (ClientError, BotoCoreError):
            return


def native_move(sqs: Any, source_arn: str, destination_arn: str, poller: Poller) -> MoveReport:
    """SQS's StartMessageMoveTask, waited for. Raises ClientError (or, in-process moto,
    NotImplementedError) when the backend cannot do it; the caller then uses MessageMover."""
    report = MoveReport(source_arn, destination_arn, "SQS move task")
    sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)

    def finished() -> dict[str, Any] | None:
        tasks = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
        task: dict[str, Any] | None = tasks[0] if tasks else None
        return task if task is not None and task.get("Status") in TASK_DONE else None

    task = poller.until(finished, f"the message move task from {source_arn}")
    report.moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
    if task.get("Status") != "COMPLETED":
        report.failed = max(int(task.get("ApproximateNumberOfMessagesToMove", 0)) - report.moved, 0)
        report.error = f"task {task.get('Status')}: {task.get('FailureReason', '')}".strip()
    return report
