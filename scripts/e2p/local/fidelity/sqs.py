"""SQS: StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask, which moto 5.2.5 lacks.

AWS behaviour restored (SQS API Reference, StartMessageMoveTask):
- the source must be a queue that another queue uses as its dead-letter queue;
- messages move to DestinationArn, or, when it is omitted, back to the source queue they were
  redriven from (here: the DLQ's only source queue; several source queues without a
  DestinationArn make the task FAILED with a reason, which is where the local AWS is stricter);
- the task runs to completion at once locally (AWS throttles by MaxNumberOfMessagesPerSecond),
  so ListMessageMoveTasks reports it COMPLETED with ApproximateNumberOfMessagesMoved, and
  CancelMessageMoveTask finds no running task.
- SetQueueAttributes changes only the attributes it names: moto cleared the queue's Policy
  whenever a call did not repeat it (SQS API Reference, SetQueueAttributes).
moto already does the rest this product relies on, and the tests keep checking it: RedrivePolicy
maxReceiveCount moves a message to the DLQ on the receive after the N-th, ApproximateReceiveCount
is returned, ChangeMessageVisibility works.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

from e2p.local.fidelity import patching

STATUS_COMPLETED = "COMPLETED"
STATUS_FAILED = "FAILED"
STATUS_RUNNING = "RUNNING"


def _queue_from_arn(arn: str) -> tuple[Any, Any]:
    from moto.sqs.exceptions import QueueDoesNotExist, SQSException
    from moto.sqs.models import sqs_backends

    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise SQSException("InvalidParameterValue", f"Value {arn} for parameter SourceArn is invalid.")
    backend = sqs_backends[parts[4]][parts[3]]
    try:
        return backend, backend.get_queue(parts[5])
    except QueueDoesNotExist as error:
        raise SQSException("ResourceNotFoundException", f"The resource {arn} does not exist.") from error


def _tasks(backend: Any) -> list[dict[str, Any]]:
    # Kept on the backend so a reset of the local AWS forgets them too.
    if not hasattr(backend, "_e2p_move_tasks"):
        backend._e2p_move_tasks = []
    tasks: list[dict[str, Any]] = backend._e2p_move_tasks
    return tasks


def _handle(source_arn: str) -> str:
    raw = json.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source_arn})
    return base64.b64encode(raw.encode()).decode()


def move_messages(source_arn: str, destination_arn: str | None, rate: int | None = None) -> dict[str, Any]:
    """Run a message move task now and return its ListMessageMoveTasks record."""
    backend, source = _queue_from_arn(source_arn)
    from moto.sqs.exceptions import SQSException

    origins = [
        q
        for region in _all_sqs_backends()
        for q in list(region.queues.values())
        if q.dead_letter_queue is source
    ]
    if not origins:
        raise SQSException("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
    task: dict[str, Any] = {
        "TaskHandle": _handle(source_arn),
        "Status": STATUS_RUNNING,
        "SourceArn": source_arn,
        "ApproximateNumberOfMessagesMoved": 0,
        "ApproximateNumberOfMessagesToMove": len(source.messages),
        "StartedTimestamp": int(time.time() * 1000),
    }
    if destination_arn:
        task["DestinationArn"] = destination_arn
    if rate is not None:
        task["MaxNumberOfMessagesPerSecond"] = rate
    _tasks(backend).insert(0, task)
    if not destination_arn and len(origins) > 1:
        task["Status"] = STATUS_FAILED
        task["FailureReason"] = "The dead-letter queue has several source queues: give a DestinationArn."
        return task
    target_arn = destination_arn or origins[0].queue_arn
    target_backend, target = _queue_from_arn(target_arn)
    with source._messages_lock:
        moving = [m for m in source._messages if m.visible and not m.delayed]
        source._messages = [m for m in source._messages if m not in moving]
    for message in moving:
        target_backend.send_message(
            queue_name=target.name,
            message_body=message.body,
            message_attributes=message.message_attributes,
            group_id=message.group_id if target.fifo_queue else None,
            deduplication_id=message.deduplication_id if target.fifo_queue else None,
        )
    task["ApproximateNumberOfMessagesMoved"] = len(moving)
    task["Status"] = STATUS_COMPLETED
    return task


def _all_sqs_backends() -> list[Any]:
    from moto.sqs.models import sqs_backends

    return [backend for account in list(sqs_backends.values()) for backend in list(account.values())]


def _start_message_move_task(response: Any) -> Any:
    from moto.core.responses import ActionResult

    task = move_messages(
        response._get_param("SourceArn"),
        response._get_param("DestinationArn"),
        response._get_param("MaxNumberOfMessagesPerSecond"),
    )
    return ActionResult({"TaskHandle": task["TaskHandle"]})


def _list_message_move_tasks(response: Any) -> Any:
    from moto.core.responses import ActionResult

    source_arn = response._get_param("SourceArn")
    limit = int(response._get_param("MaxResults") or 1)
    backend, _ = _queue_from_arn(source_arn)
    results = [t for t in _tasks(backend) if t["SourceArn"] == source_arn][:limit]
    return ActionResult({"Results": results})


def _cancel_message_move_task(response: Any) -> Any:
    from moto.sqs.exceptions import SQSException

    raise SQSException(
        "ResourceNotFoundException",
        "No running message move task has this handle (local tasks finish at once).",
    )


def _set_attributes(original: Any, queue: Any, attributes: dict[str, Any], now: float | None = None) -> None:
    if "Policy" in attributes or not hasattr(queue, "_policy_json"):
        original(queue, attributes, now)
        return
    kept = queue.policy
    original(queue, attributes, now)
    queue.policy = kept


def install() -> None:
    """Install the SQS additions into this process (idempotent)."""
    from moto.sqs.models import Queue
    from moto.sqs.responses import SQSResponse

    patching.replace(Queue, "_set_attributes", _set_attributes)

    patching.add_method(SQSResponse, "start_message_move_task", _start_message_move_task)
    patching.add_method(SQSResponse, "list_message_move_tasks", _list_message_move_tasks)
    patching.add_method(SQSResponse, "cancel_message_move_task", _cancel_message_move_task)
