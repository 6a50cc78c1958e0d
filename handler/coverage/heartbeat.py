"""The forwarder's heartbeat step: a member heartbeat is recorded as "last heard" and never sent.

A heartbeat is the event each member stack's schedule puts on its default bus (handler.coverage.names):
it arrived here through the same rule, role, bus policy and queue as real events, so its arrival
proves that account x region forwards. The step records the event's own time (not the time it was
processed: a backlog must not look like fresh coverage) as `last_seen` of the pair, and nothing
goes to Panther. Clears and alerts are the watchdog's (handler.scheduled.watchdog).

A write that fails returns the record to the queue (SQS redelivers, then dead-letters): a lost
heartbeat would raise a false "forwarding is broken" alert later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from handler.coverage.names import HEARTBEAT_DETAIL_TYPE, HEARTBEAT_SOURCE
from handler.envelope import Envelope
from handler.exceptions import Events2PantherError, aws_error_code

# How long a pair's record outlives its last heartbeat (DynamoDB TTL): long enough for the
# watchdog to keep alerting on a silent pair for a month, then an account long gone is forgotten.
PAIR_RETENTION_S: Final = 31 * 86400
PAIR_KEY_PREFIX: Final = "pair#"


class CoverageStoreError(Events2PantherError):
    """The coverage table could not be written or read."""


def is_heartbeat(envelope: Envelope) -> bool:
    return envelope.source == HEARTBEAT_SOURCE and envelope.detail_type == HEARTBEAT_DETAIL_TYPE


def pair_key(account: str, region: str) -> str:
    return f"{PAIR_KEY_PREFIX}{account}#{region}"


def epoch_of(iso_time: str) -> int | None:
    """EventBridge's `time` ("2026-12-02T15:58:04Z") as epoch seconds; None when unreadable."""
    try:
        return int(datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    account: str
    region: str
    seen_at: int  # epoch seconds, the event's own time
    interval_minutes: int
    stack: str = ""


def heartbeat_of(envelope: Envelope, received_at: int) -> Heartbeat:
    """The heartbeat an envelope carries; `received_at` stands in for an unreadable time."""
    interval = envelope.text("interval_minutes")
    return Heartbeat(
        account=envelope.account,
        region=envelope.region,
        seen_at=epoch_of(envelope.time) or received_at,
        interval_minutes=int(interval) if interval.isdigit() else 0,
        stack=envelope.text("stack"),
    )


class HeartbeatSink(Protocol):
    def record(self, heartbeat: Heartbeat) -> None: ...


class DynamoDBCoverageTable:
    """The coverage table (central stack `CoverageTable`), key `pk` (string), TTL on `expiration`.

    Heartbeat records: pk "pair#<account>#<region>", account, region, last_seen, interval_minutes.
    The watchdog adds its open alerts under "alert#..." (handler.coverage.watchdog_state).
    """

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def record(self, heartbeat: Heartbeat) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": pair_key(heartbeat.account, heartbeat.region)}},
                # Never move last_seen back: a heartbeat redelivered late is older than the newest.
                UpdateExpression=(
                    "SET account_id = :a, #region = :r, last_seen = :t, interval_minutes = :i, "
                    "stack_name = :s, expiration = :e"
                ),
                ConditionExpression="attribute_not_exists(last_seen) OR last_seen < :t",
                ExpressionAttributeNames={"#region": "region"},
                ExpressionAttributeValues={
                    ":a": {"S": heartbeat.account},
                    ":r": {"S": heartbeat.region},
                    ":t": {"N": str(heartbeat.seen_at)},
                    ":i": {"N": str(heartbeat.interval_minutes)},
                    ":s": {"S": heartbeat.stack or "-"},
                    ":e": {"N": str(heartbeat.seen_at + PAIR_RETENTION_S)},
                },
            )
        except ClientError as exc:
            if aws_error_code(exc) == "ConditionalCheckFailedException":
                return  # a newer heartbeat of this pair is already recorded
            raise CoverageStoreError(f"coverage table {self._table}: {exc}") from exc
        except BotoCoreError as exc:
            raise CoverageStoreError(f"coverage table {self._table}: {exc}") from exc
