"""The idempotency ledger on powertools' DynamoDB persistence layer (the central stack's table).

Its own module because powertools' idempotency package imports boto3 and its DynamoDB layer (~14 ms
and boto3's import at a cold start): the runtime imports it only when E2P_IDEMPOTENCY_TABLE is set,
while handler.idempotency (keys, LedgeredSender) is imported by every pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    BaseError as PowertoolsIdempotencyError,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord
from botocore.exceptions import BotoCoreError, ClientError

from handler.delivery.outcome import DeliveryStatus
from handler.idempotency import Claim, LedgerUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Records of this table are prefixed with this instead of the function's name, so that a renamed
# function (a replaced stack resource) still finds the records of its predecessor.
KEY_PREFIX: Final = "e2p-delivery"
HASH_FUNCTION: Final = "sha256"
# A record can vanish or expire between the conditional put and the read of the old one, and a
# throttled put is tried again: together at most this many puts per claim.
CLAIM_TRIES: Final = 3
# complete and release are plain writes: trying them again after any error is harmless.
WRITE_TRIES: Final = 2
RETRY_PAUSE_S: Final = 0.05
# DynamoDB answers these before applying anything: a conditional put may be sent again. After any
# other error (a timeout, a reset connection, a 500) the put may have been applied with its answer
# lost; sent again, it would find its own record and take it for another invocation's, leaving the
# message blocked until the claim expires. The runtime's client therefore retries nothing itself.
_NOT_APPLIED_CODES: Final = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
_DATA_KEY: Final = "message"
_MS_PER_S: Final = 1000
_STORE_ERRORS: Final = (BotoCoreError, ClientError, PowertoolsIdempotencyError)


class _NotDeliveredError(Exception):
    """Never raised: powertools' delete_record wants the exception that made it necessary (for a log)."""


class DynamoDBLedger:
    """The ledger on powertools' DynamoDB persistence layer (records: id, status, expiration,
    in_progress_expiration, data). Thread-safe: the delivery workers share it."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        ttl_s: int,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`client` should not retry by itself (botocore `total_max_attempts` 1): see _NOT_APPLIED_CODES."""
        self._table_name = table_name
        self._sleep = sleep
        self._store = DynamoDBPersistenceLayer(table_name, boto3_client=client)
        # No local cache: powertools' LRU cache is not thread-safe, and a record is read once per
        # message attempt anyway.
        self._store.configure(
            IdempotencyConfig(expires_after_seconds=ttl_s, hash_function=HASH_FUNCTION),
            key_prefix=KEY_PREFIX,
        )

    def __repr__(self) -> str:
        return f"DynamoDBLedger(table={self._table_name!r})"

    def claim(self, key: str, hold_ms: int) -> Claim:
        data = {_DATA_KEY: key}
        for attempt in range(1, CLAIM_TRIES + 1):
            try:
                self._store.save_inprogress(data, remaining_time_in_millis=max(hold_ms, 0))
            except IdempotencyItemAlreadyExistsError as exc:
                record = exc.old_data_record or self._read(data)
            except _STORE_ERRORS as exc:
                if _not_applied(exc) and attempt < CLAIM_TRIES:
                    self._sleep(RETRY_PAUSE_S * attempt)
                    continue
                raise LedgerUnavailableError(f"claim in {self._table_name}: {_describe(exc)}") from exc
            else:
                return Claim.CLAIMED
            try:
                held = _held(record)
            except _STORE_ERRORS as exc:  # a status powertools does not know
                raise LedgerUnavailableError(f"claim in {self._table_name}: {_describe(exc)}") from exc
            if held is not None:
                return held
            # The record disappeared or expired since the conditional put refused: put again.
        # Records that keep changing under us: someone else is working on this message.
        return Claim.BUSY

    def complete(self, key: str, status: DeliveryStatus) -> None:
        self._write("complete", lambda: self._store.save_success({_DATA_KEY: key}, {"status": status.value}))

    def release(self, key: str) -> None:
        self._write("release", lambda: self._store.delete_record({_DATA_KEY: key}, _NotDeliveredError()))

    def _write(self, step: str, write: Callable[[], None]) -> None:
        for attempt in range(1, WRITE_TRIES + 1):
            try:
                write()
            except _STORE_ERRORS as exc:
                if attempt < WRITE_TRIES:
                    self._sleep(RETRY_PAUSE_S * attempt)
                    continue
                raise LedgerUnavailableError(f"{step} in {self._table_name}: {_describe(exc)}") from exc
            return

    def _read(self, data: dict[str, Any]) -> DataRecord | None:
        try:
            return self._store.get_record(data)
        except IdempotencyItemNotFoundError:
            return None
        except _STORE_ERRORS as exc:
            raise LedgerUnavailableError(f"read in {self._table_name}: {_describe(exc)}") from exc


def _held(record: DataRecord | None) -> Claim | None:
    """What an existing record says, or None when it no longer stands in the way."""
    if record is None:
        return None
    status = record.status  # EXPIRED when past its TTL, whatever was stored
    if status == STATUS_CONSTANTS["COMPLETED"]:
        return Claim.DONE
    if status != STATUS_CONSTANTS["INPROGRESS"]:
        return None
    expiry_ms = record.in_progress_expiry_timestamp
    if expiry_ms is not None and expiry_ms < time.time() * _MS_PER_S:
        return None
    return Claim.BUSY


def _not_applied(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _NOT_APPLIED_CODES


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'unknown')}: {error.get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"
