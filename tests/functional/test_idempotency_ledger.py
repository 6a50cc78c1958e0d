"""DynamoDBLedger on moto's DynamoDB: powertools' records as the central stack's table holds them."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws
from test_reliability_harness import REGION, TABLE, create_idempotency_table

from handler.delivery.outcome import DeliveryOutcome, DeliveryStatus
from handler.idempotency import Claim, KeyedBody, LedgeredSender, LedgerUnavailableError
from handler.idempotency_dynamodb import CLAIM_TRIES, DynamoDBLedger
from handler.runtime import IDEMPOTENCY_CLIENT_CONFIG

pytestmark = pytest.mark.functional

DAY_S = 86400
LIVE_HOLD_MS = 60_000


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_idempotency_table(client)
        yield client


@pytest.fixture
def ledger(dynamodb: Any) -> DynamoDBLedger:
    return DynamoDBLedger(dynamodb, TABLE, DAY_S)


def items(dynamodb: Any) -> list[dict[str, Any]]:
    return dynamodb.scan(TableName=TABLE)["Items"]


def test_claim_complete_and_release_follow_the_message(ledger: DynamoDBLedger, dynamodb: Any) -> None:
    assert ledger.claim("evt#0", LIVE_HOLD_MS) is Claim.CLAIMED
    assert ledger.claim("evt#0", LIVE_HOLD_MS) is Claim.BUSY  # a second invocation, meanwhile
    ledger.complete("evt#0", DeliveryStatus.DELIVERED)
    assert ledger.claim("evt#0", LIVE_HOLD_MS) is Claim.DONE
    assert ledger.claim("evt#1", LIVE_HOLD_MS) is Claim.CLAIMED
    ledger.release("evt#1")
    assert ledger.claim("evt#1", LIVE_HOLD_MS) is Claim.CLAIMED  # a released message can be sent again
    [done] = [i for i in items(dynamodb) if i["status"]["S"] == "COMPLETED"]
    assert "delivered" in done["data"]["S"]


def test_records_carry_the_ttl_attribute_the_table_expires_on(ledger: DynamoDBLedger, dynamodb: Any) -> None:
    before = time.time()
    ledger.claim("evt#0", LIVE_HOLD_MS)
    [item] = items(dynamodb)
    assert item["id"]["S"].startswith("e2p-delivery#")
    assert before + DAY_S - 1 <= int(item["expiration"]["N"]) <= time.time() + DAY_S + 1
    # the in-progress expiry is in milliseconds, the hold after now
    assert int(item["in_progress_expiration"]["N"]) >= before * 1000 + LIVE_HOLD_MS - 1000


def test_a_claim_left_by_a_killed_invocation_expires_with_its_deadline(ledger: DynamoDBLedger) -> None:
    # GIVEN an invocation that claimed with no time left, and was killed before completing
    assert ledger.claim("evt#0", 0) is Claim.CLAIMED
    time.sleep(0.01)  # the in-progress expiry has millisecond resolution
    # THEN the message is not blocked: the next attempt claims it
    assert ledger.claim("evt#0", LIVE_HOLD_MS) is Claim.CLAIMED


def test_a_completed_record_past_its_ttl_no_longer_blocks(ledger: DynamoDBLedger, dynamodb: Any) -> None:
    ledger.claim("evt#0", LIVE_HOLD_MS)
    ledger.complete("evt#0", DeliveryStatus.DELIVERED)
    # DynamoDB deletes expired items lazily (up to days later): the expiry itself must count.
    [item] = items(dynamodb)
    dynamodb.update_item(
        TableName=TABLE,
        Key={"id": item["id"]},
        UpdateExpression="SET expiration = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 10)}},
    )
    assert ledger.claim("evt#0", LIVE_HOLD_MS) is Claim.CLAIMED


def test_a_missing_table_is_reported_as_unavailable(dynamodb: Any) -> None:
    ledger = DynamoDBLedger(dynamodb, "no-such-table", DAY_S)
    with pytest.raises(LedgerUnavailableError, match="ResourceNotFoundException"):
        ledger.claim("evt#0", LIVE_HOLD_MS)
    with pytest.raises(LedgerUnavailableError):
        ledger.complete("evt#0", DeliveryStatus.DELIVERED)
    with pytest.raises(LedgerUnavailableError):
        ledger.release("evt#0")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_store_fails_fast_as_unavailable() -> None:
    client = boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        config=Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "max_attempts": 1}),
    )
    with pytest.raises(LedgerUnavailableError, match="EndpointConnectionError"):
        DynamoDBLedger(client, TABLE, DAY_S).claim("evt#0", LIVE_HOLD_MS)


class LosesAnswers:
    """A DynamoDB client whose next `put_item` calls fail as told: `lost` applies the write and
    then raises a read timeout (the answer never came back), `throttled` refuses it unapplied."""

    def __init__(self, client: Any, *failures: str) -> None:
        self._client = client
        self.failures = list(failures)
        self.puts = 0

    def put_item(self, **request: Any) -> Any:
        self.puts += 1
        failure = self.failures.pop(0) if self.failures else None
        if failure == "throttled":
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
            raise ClientError(error, "PutItem")  # type: ignore[arg-type]
        answer = self._client.put_item(**request)
        if failure == "lost":
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class CountingSender:
    def __init__(self) -> None:
        self.sent = 0

    def send(self, body: bytes, correlation_id: str, deadline: float | None = None) -> DeliveryOutcome:
        self.sent += 1
        return DeliveryOutcome(DeliveryStatus.DELIVERED, 1, 200, "HTTP 200", 1.0)


def test_a_claim_whose_answer_was_lost_is_not_taken_for_another_invocations(dynamodb: Any) -> None:
    # GIVEN a claim that DynamoDB applied but whose answer was lost. Sent again (botocore's retry,
    # which the runtime's client no longer does), the put found its own record: the message was
    # then left "in progress elsewhere" until the invocation's deadline (seen in the local demo).
    lossy = LosesAnswers(dynamodb, "lost")
    ledger = DynamoDBLedger(lossy, TABLE, DAY_S)
    sender = CountingSender()
    body = KeyedBody(b"{}", "evt#0")
    # WHEN the ledgered sender delivers the message
    outcome = LedgeredSender(sender, ledger).send(body, "msg-1", time.monotonic() + 60)
    # THEN the claim is not repeated, the message goes out once and its record is completed
    assert lossy.puts == 1
    assert outcome.status is DeliveryStatus.DELIVERED and sender.sent == 1
    assert [item["status"]["S"] for item in items(dynamodb)] == ["COMPLETED"]
    # AND a second copy of the event is skipped, not sent
    assert LedgeredSender(sender, DynamoDBLedger(dynamodb, TABLE, DAY_S)).send(body, "msg-2").attempts == 0
    assert sender.sent == 1


def test_a_throttled_claim_is_tried_again(dynamodb: Any) -> None:
    # DynamoDB refuses a throttled put before applying it: trying again cannot find our own record.
    pauses: list[float] = []
    lossy = LosesAnswers(dynamodb, "throttled", "throttled")
    ledger = DynamoDBLedger(lossy, TABLE, DAY_S, sleep=pauses.append)
    assert ledger.claim("evt#0", LIVE_HOLD_MS) is Claim.CLAIMED
    assert lossy.puts == 3 and len(pauses) == 2
    # always throttled: unavailable after CLAIM_TRIES puts, never a silent BUSY
    always = LosesAnswers(dynamodb, *["throttled"] * CLAIM_TRIES)
    with pytest.raises(LedgerUnavailableError, match="ProvisionedThroughputExceededException"):
        DynamoDBLedger(always, TABLE, DAY_S, sleep=pauses.append).claim("evt#1", LIVE_HOLD_MS)
    assert always.puts == CLAIM_TRIES


def test_the_ledger_client_leaves_retries_to_the_ledger() -> None:
    # GIVEN a client configured as the runtime configures the ledger's, and a store that is down
    client = boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        config=IDEMPOTENCY_CLIENT_CONFIG,
    )
    sent: list[str] = []
    client.meta.events.register("before-send.dynamodb.PutItem", lambda **kwargs: sent.append("PutItem"))
    # WHEN a claim fails
    with pytest.raises(LedgerUnavailableError):
        DynamoDBLedger(client, TABLE, DAY_S).claim("evt#0", LIVE_HOLD_MS)
    # THEN botocore sent the conditional put once: retrying is the ledger's decision
    assert sent == ["PutItem"]
