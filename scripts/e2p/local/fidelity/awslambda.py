"""Lambda: moto must never run, or pretend to run, the function.

The local mode runs the real handler in-process itself (e2p.local.event_source) with the SQS
event source mapping's semantics. moto 5.2.5, on every SendMessage to a queue with a mapping,
receives a batch itself, "invokes" the function without Docker (it only echoes the input) and
deletes the messages: the events would vanish before the real handler saw them. Restored: a
queue never hands its messages to a mapping inside moto; CreateEventSourceMapping,
GetEventSourceMapping and ListEventSourceMappings keep working (the local runner reads
BatchSize, MaximumBatchingWindowInSeconds, ScalingConfig and FunctionResponseTypes from them).
"""

from __future__ import annotations

from typing import Any

from e2p.local.fidelity import patching, switch

_STORE = "_e2p_event_source_mappings"


def _get(queue: Any) -> dict[str, Any]:
    if not switch.active():
        store: dict[str, Any] = queue.__dict__.setdefault(_STORE, {})
        return store
    # A fresh dict each time: moto's send path iterates nothing and registrations vanish.
    return {}


def _set(queue: Any, value: dict[str, Any]) -> None:
    queue.__dict__[_STORE] = value


def install() -> None:
    """Install the Lambda patch into this process (idempotent)."""
    from moto.sqs.models import Queue

    if patching.is_patched(Queue, "lambda_event_source_mappings"):
        return
    patching.claim(Queue, "lambda_event_source_mappings")
    Queue.lambda_event_source_mappings = property(_get, _set)  # type: ignore[assignment]
