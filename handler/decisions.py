"""Retry, dead-letter or done: every decision about a record is made here, with its reason.

- ACK: the record is finished (delivered, discarded by the console's rules, or filtered on purpose).
- RETRY: the record goes back to the buffer queue (batchItemFailures) and SQS redelivers it after the
  visibility timeout; after maxReceiveCount receives SQS moves it to the dead-letter queue itself.
- DEAD_LETTER: retrying cannot help; the handler writes the record to the dead-letter queue with the
  reason as a message attribute, so an operator can read why and `e2p replay` it after a fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from handler.delivery.outcome import DeliveryOutcome, DeliveryStatus


class Action(StrEnum):
    ACK = "ack"
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str = ""


def for_invalid_envelope(reason: str) -> Decision:
    # The same bytes will never parse: retrying only delays the operator's look at them.
    return Decision(Action.DEAD_LETTER, f"invalid envelope: {reason}")


def for_filtered(reason: str) -> Decision:
    return Decision(Action.ACK, f"filtered: {reason}")


def for_deliveries(outcomes: Sequence[DeliveryOutcome]) -> Decision:
    """One record may give several messages; the record is done only when all of them are."""
    retryable = [o for o in outcomes if o.status is DeliveryStatus.RETRYABLE]
    if retryable:
        # Transient trouble (network, 429, 5xx, deadline): SQS redelivers later. Messages of this
        # record that did go through may be sent again then; the idempotency store absorbs that.
        return Decision(Action.RETRY, retryable[0].reason)
    permanent = [o for o in outcomes if o.status is DeliveryStatus.PERMANENT]
    if permanent:
        # Panther refused the message itself (validation, authentication): the same request
        # would be refused again, so it waits in the dead-letter queue for a fix and a replay.
        return Decision(Action.DEAD_LETTER, permanent[0].reason)
    return Decision(Action.ACK)


def for_heartbeat(store_error: str | None) -> Decision:
    if store_error is not None:
        # The pair's last-seen time could not be written: give the record back to SQS rather than
        # lose the proof that the pair forwards (the watchdog would report it silent).
        return Decision(Action.RETRY, f"heartbeat not recorded: {store_error}")
    # Recorded; a healthy heartbeat is never sent to Panther.
    return Decision(Action.ACK, "heartbeat recorded")


def for_dead_letter_failure(reason: str) -> Decision:
    # The record could not be parked in the dead-letter queue: give it back to SQS rather than
    # acknowledge it, so its redrive policy still catches it. Never lose it.
    return Decision(Action.RETRY, f"dead-letter write failed: {reason}")
