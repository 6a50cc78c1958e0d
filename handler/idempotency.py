"""Idempotent delivery: a message Panther already accepted is not sent again when its record comes back.

SQS delivers at least once and a record is retried whole: a record whose event gave several
messages (a Security Hub event, one per finding) and failed after some of them went through would
otherwise raise the tally of the delivered ones again on every retry. A ledger remembers, per
message, that it was delivered.

The key of a message is `<event id>#<envelope digest>#<ordinal>#<stable part>` (hashed by powertools):
- the EventBridge event id, not the SQS message id: a redelivery keeps the message id, but a
  replay from the dead-letter queue and a duplicate put on the queue by EventBridge get new ones;
- a digest of the envelope's content (canonical JSON, so key order and spacing do not matter): ids
  are unique per event on AWS, but sample events, tests and hand-made replays reuse them, and two
  different events sharing an id must not pass for one (the second would be lost);
- the message's position among the event's messages (mappers are pure: same envelope, same order);
- a part of the message that enrichment cannot change: the identifier when the family sends one
  (a finding id), else severity and tag. Not the body: the account's name, OU or tags may change
  between attempts, and the summary is shortened to fit a body whose size they change.
When in doubt the key changes and the message is sent again: a duplicate, never a loss.
Envelopes without an id get no key and are delivered unguarded: nothing tells two of them apart.
Neither do envelopes nested too deeply to be encoded again for the digest.

States, on powertools' idempotency records (handler.idempotency_dynamodb, the central stack's table):
- claimed (IN_PROGRESS) just before the POST, with an in-progress expiry at the invocation's
  deadline: a crashed invocation blocks its message only until then, long before SQS redelivers;
- completed (COMPLETED) after DELIVERED or DISCARDED: later attempts skip it and count it as done;
- released (deleted) after RETRYABLE or PERMANENT, so that a later attempt can send it;
- records expire after a TTL (E2P_IDEMPOTENCY_TTL_SECONDS, default DEFAULT_TTL_S).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Final, Protocol, Self

from handler.counters import Count, Counters
from handler.delivery.fanout import Sender
from handler.delivery.outcome import DeliveryOutcome, DeliveryStatus
from handler.envelope import UNKNOWN, Envelope
from handler.exceptions import Events2PantherError
from handler.message import PantherMessage

logger = logging.getLogger(__name__)

# 14 days: the longest window anything can be replayed from (the dead-letter queues keep messages
# 14 days, SQS's maximum; the bus archive 7 by default), so an `e2p replay` of a dead-letter queue or
# the archive never raises Panther's tally again for a message already delivered. It also covers the
# automatic redelivery window (maxReceiveCount x visibility timeout) and EventBridge's 24 h retries.
# A deliberate re-send of what Panther already acknowledged needs idempotency off or a new record.
DEFAULT_TTL_S: Final = 14 * 24 * 3600
# Without a deadline (no Lambda context) a claim is held for Lambda's longest timeout: no
# invocation can still be delivering after that.
IN_PROGRESS_FALLBACK_S: Final = 900.0
_MS_PER_S: Final = 1000

DUPLICATE_REASON: Final = "already delivered by an earlier attempt (idempotency record)"
IN_PROGRESS_REASON: Final = "another invocation is delivering this message (idempotency record)"


class LedgerUnavailableError(Events2PantherError):
    """The idempotency store could not be read or written."""


class Claim(StrEnum):
    CLAIMED = "claimed"  # this attempt owns the message: send it
    DONE = "done"  # an earlier attempt delivered it: do not send
    BUSY = "busy"  # another invocation holds it and may still be sending: retry later


class DeliveryLedger(Protocol):
    """Per-message delivery state. Every method raises LedgerUnavailableError when the store fails."""

    def claim(self, key: str, hold_ms: int) -> Claim: ...

    def complete(self, key: str, status: DeliveryStatus) -> None: ...

    def release(self, key: str) -> None: ...


class KeyedBody(bytes):
    """A message body that carries its idempotency key through the Dispatcher, which moves
    (correlation id, bytes) pairs and hands the bytes unchanged to the sender."""

    idempotency_key: str

    def __new__(cls, body: bytes, key: str) -> Self:
        instance = super().__new__(cls, body)
        instance.idempotency_key = key
        return instance


def delivery_keys(envelope: Envelope, messages: Sequence[PantherMessage]) -> list[str | None]:
    """The idempotency key of each message of `envelope` (see the module docstring); None for
    every message when the envelope has no id."""
    if envelope.id == UNKNOWN:
        return [None] * len(messages)
    try:
        digest = envelope_digest(envelope)
    except RecursionError:
        # Nested deep enough to parse but not to encode again this far down the stack: deliver
        # unguarded rather than fail the whole batch.
        return [None] * len(messages)
    prefix = f"{envelope.id}#{digest}"
    return [
        f"{prefix}#{ordinal}#{message.identifier or f'{message.severity}:{message.tag}'}"
        for ordinal, message in enumerate(messages)
    ]


def envelope_digest(envelope: Envelope) -> str:
    canonical = json.dumps(
        {
            "source": envelope.source,
            "detail-type": envelope.detail_type,
            "account": envelope.account,
            "region": envelope.region,
            "time": envelope.time,
            "resources": envelope.resources,
            "detail": envelope.detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def keyed_body(body: bytes, key: str | None) -> bytes:
    return body if key is None else KeyedBody(body, key)


class LedgeredSender:
    """A Sender that consults the ledger around each keyed message; bodies without a key go
    straight through. Thread-safe."""

    def __init__(
        self, client: Sender, ledger: DeliveryLedger, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._clock = clock
        self._lock = threading.Lock()
        self._counts = Counters()

    def __repr__(self) -> str:
        return f"LedgeredSender(client={self._client!r}, ledger={self._ledger!r})"

    def take_counts(self) -> list[tuple[Count, int]]:
        """What the ledger saw since the last call (the pipeline adds it to its batch's counters)."""
        with self._lock:
            counts, self._counts = self._counts.items(), Counters()
        return counts

    def send(self, body: bytes, correlation_id: str, deadline: float | None = None) -> DeliveryOutcome:
        if not isinstance(body, KeyedBody):
            return self._client.send(body, correlation_id, deadline)
        key = body.idempotency_key
        started = self._clock()
        claim = self._claim(key, deadline, correlation_id)
        if claim is Claim.DONE:
            logger.info("message already delivered, not sent again", extra={"correlation_id": correlation_id})
            return DeliveryOutcome(
                DeliveryStatus.DELIVERED, 0, None, DUPLICATE_REASON, self._ms_since(started)
            )
        if claim is Claim.BUSY:
            logger.warning(
                "message held by another invocation, left for a retry",
                extra={"correlation_id": correlation_id},
            )
            return DeliveryOutcome(
                DeliveryStatus.RETRYABLE, 0, None, IN_PROGRESS_REASON, self._ms_since(started)
            )
        try:
            outcome = self._client.send(body, correlation_id, deadline)
        except BaseException:
            # A crash in the sender: give the message back so the batch's redelivery sends it.
            if claim is Claim.CLAIMED:
                self._release(key, correlation_id)
            raise
        if outcome.done:
            self._complete(key, outcome.status, correlation_id)
        elif claim is Claim.CLAIMED:
            self._release(key, correlation_id)
        return outcome

    def _claim(self, key: str, deadline: float | None, correlation_id: str) -> Claim | None:
        """The claim, or None when the store is unavailable."""
        hold_s = IN_PROGRESS_FALLBACK_S if deadline is None else deadline - self._clock()
        try:
            return self._ledger.claim(key, int(hold_s * _MS_PER_S))
        except LedgerUnavailableError as exc:
            # Deliver anyway. The contract is at-least-once: a store outage may cost a duplicate
            # in Panther (a tally raised once more), while holding messages back until the store
            # recovers would delay every alert and, after maxReceiveCount, dead-letter them.
            self._store_failed("claim", exc, correlation_id)
            return None

    def _complete(self, key: str, status: DeliveryStatus, correlation_id: str) -> None:
        try:
            self._ledger.complete(key, status)
        except LedgerUnavailableError as exc:
            # Delivered all the same. The claim (if any) expires with this invocation; a later
            # redelivery of the record would then send the message again: a duplicate, not a loss.
            self._store_failed("complete", exc, correlation_id)

    def _release(self, key: str, correlation_id: str) -> None:
        try:
            self._ledger.release(key)
        except LedgerUnavailableError as exc:
            # The claim still expires at this invocation's deadline, before SQS makes the record
            # visible again (visibility timeout = 6 x the function timeout).
            self._store_failed("release", exc, correlation_id)

    def _store_failed(self, step: str, exc: LedgerUnavailableError, correlation_id: str) -> None:
        with self._lock:
            self._counts.add(Count.IDEMPOTENCY_STORE_ERRORS)
        logger.warning(
            "idempotency store unavailable; delivery goes on without it",
            extra={"correlation_id": correlation_id, "step": step, "reason": str(exc)},
        )

    def _ms_since(self, started: float) -> float:
        return round((self._clock() - started) * _MS_PER_S, 3)
