"""`e2p replay`: dead letters back into the buffer queue without loss; archive replay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cli_org import CENTRAL_STACK, Stage, local_aws_fixture, shared_deployment_fixture  # noqa: F401
from moto import mock_aws

from e2p.aws.message_mover import MessageMover

pytestmark = pytest.mark.functional

# What EventBridge attaches to a message it dead-letters (EventBridge User Guide, rule DLQs).
EVENTBRIDGE_DLQ_ATTRIBUTES = {
    "ERROR_CODE": {"DataType": "String", "StringValue": "CONNECTION_FAILURE"},
    "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Failed to connect to target"},
    "RULE_ARN": {"DataType": "String", "StringValue": "arn:aws:events:eu-west-1:111111111111:rule/bus/rule"},
    "TARGET_ARN": {"DataType": "String", "StringValue": "arn:aws:sqs:eu-west-1:111111111111:buffer"},
}


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message of a queue, received and deleted."""
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
    ).get("Messages", []):
        found += batch
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return found


def envelope(n: int, prefix: str) -> str:
    return json.dumps({"version": "0", "id": f"{prefix}-{n}", "source": "aws.guardduty", "detail": {"n": n}})


@pytest.fixture
def queues(shared_deployment: Stage) -> Iterator[tuple[Any, dict[str, str]]]:
    """The shared deployment's central queues, emptied before and after the test."""
    sqs = shared_deployment.central("sqs")
    outputs = shared_deployment.central_outputs()
    names = ("BufferQueueUrl", "DeadLetterQueueUrl", "RuleDeadLetterQueueUrl")
    for name in names:
        drain(sqs, outputs[name])
    yield sqs, outputs
    for name in names:
        drain(sqs, outputs[name])


def test_every_dead_letter_goes_back_to_the_buffer_and_the_counts_are_reported(
    shared_deployment: Stage, queues: tuple[Any, dict[str, str]]
) -> None:
    sqs, outputs = queues
    buffer_dead = {envelope(n, "buffer") for n in range(23)}
    rule_dead = {envelope(n, "rule") for n in range(7)}
    for body in buffer_dead:
        sqs.send_message(QueueUrl=outputs["DeadLetterQueueUrl"], MessageBody=body)
    for body in rule_dead:
        sqs.send_message(
            QueueUrl=outputs["RuleDeadLetterQueueUrl"],
            MessageBody=body,
            MessageAttributes=EVENTBRIDGE_DLQ_ATTRIBUTES,
        )
    code, data = shared_deployment.cli_json("replay")
    assert code == 0, data
    rows = {row["source"]: row for row in data["replays"]}
    assert (rows["buffer DLQ"]["moved"], rows["buffer DLQ"]["failed"], rows["buffer DLQ"]["left"]) == (
        23,
        0,
        0,
    )
    assert (rows["rule DLQ"]["moved"], rows["rule DLQ"]["failed"], rows["rule DLQ"]["left"]) == (7, 0, 0)
    # The rule DLQ is EventBridge's, not an SQS redrive source: e2p's own mover handles it.
    assert rows["rule DLQ"]["method"] == "e2p mover"
    assert "CONNECTION_FAILURE x7" in rows["rule DLQ"]["detail"]
    arrived = drain(sqs, outputs["BufferQueueUrl"])
    assert sorted(m["Body"] for m in arrived) == sorted(buffer_dead | rule_dead)


def test_max_moves_at_most_n_and_leaves_the_rest(
    shared_deployment: Stage, queues: tuple[Any, dict[str, str]]
) -> None:
    sqs, outputs = queues
    for n in range(15):
        sqs.send_message(QueueUrl=outputs["RuleDeadLetterQueueUrl"], MessageBody=envelope(n, "rule"))
    code, data = shared_deployment.cli_json("replay", "--from-dlq", "rule", "--max", "4")
    assert code == 0, data
    [row] = data["replays"]
    assert (row["moved"], row["left"]) == (4, 11)
    assert len(drain(sqs, outputs["BufferQueueUrl"])) == 4


def test_dry_run_changes_nothing(shared_deployment: Stage, queues: tuple[Any, dict[str, str]]) -> None:
    sqs, outputs = queues
    for n in range(3):
        sqs.send_message(QueueUrl=outputs["DeadLetterQueueUrl"], MessageBody=envelope(n, "dry"))
    code, data = shared_deployment.cli_json("replay", "--dry-run")
    assert code == 0
    assert {row["source"]: row["left"] for row in data["replays"]} == {"buffer DLQ": 3, "rule DLQ": 0}
    assert len(drain(sqs, outputs["DeadLetterQueueUrl"])) == 3
    assert drain(sqs, outputs["BufferQueueUrl"]) == []


def test_archive_replay_puts_the_archived_events_back_on_the_bus(
    shared_deployment: Stage, queues: tuple[Any, dict[str, str]]
) -> None:
    # GIVEN events that reached the central bus (and so its archive) and were consumed
    sqs, outputs = queues
    events = shared_deployment.central("events")
    marker = "archive-replay-test"
    events.put_events(
        Entries=[
            {
                "Source": "e2p.tests",
                "DetailType": "Replay Test",
                "Detail": json.dumps({"marker": marker, "n": n}),
                "EventBusName": outputs["EventBusArn"],
            }
            for n in range(3)
        ]
    )
    assert len(drain(sqs, outputs["BufferQueueUrl"])) == 3
    # WHEN the archive is replayed THEN the same events reach the buffer queue again
    code, data = shared_deployment.cli_json("replay", "--archive", "--start", "2000-01-01T00:00:00Z")
    assert code == 0, data
    [row] = data["replays"]
    assert row["source"] == "archive"
    assert "COMPLETED" in row["detail"]
    replayed = [json.loads(m["Body"]) for m in drain(sqs, outputs["BufferQueueUrl"])]
    assert sorted(e["detail"]["n"] for e in replayed if e["detail"].get("marker") == marker) == [0, 1, 2]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--start", "2024-01-01"), "--archive"),
        (("--archive",), "--start"),
        (("--archive", "--start", "2024-02-01", "--end", "2024-01-01"), "before"),
        (("--archive", "--start", "yesterday"), "ISO 8601"),
    ],
)
def test_bad_replay_options_exit_2(
    shared_deployment: Stage, arguments: tuple[str, ...], message: str
) -> None:
    result = shared_deployment.cli("replay", *arguments)
    assert result.exit_code == 2
    assert message in result.stderr


def test_replay_without_a_central_stack_fails_cleanly(shared_deployment: Stage) -> None:
    central = shared_deployment.layout.central_account
    config = shared_deployment.write_config(
        "other-stack.toml",
        central=f"""
            [central]
            account_id = "{central}"
            region = "eu-west-1"
            role_arn = "arn:aws:iam::{central}:role/OrganizationAccountAccessRole"
            stack_name = "not-{CENTRAL_STACK}"
            panther_url = "https://panther.example.com/api/event/create"
        """,
    )
    result = shared_deployment.cli("replay", config=config)
    assert result.exit_code == 1
    assert f"not-{CENTRAL_STACK} not found" in result.stderr


# ------------------------------------------------------------------ e2p's mover on plain moto


class FailingOnSend:
    """An SQS client that refuses the k-th SendMessageBatch (like a destination that goes away)."""

    def __init__(self, client: Any, failing_call: int) -> None:
        self._client = client
        self._failing_call = failing_call
        self.calls = 0

    def send_message_batch(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == self._failing_call:
            raise ClientError(
                {"Error": {"Code": "ServiceUnavailable", "Message": "try later"}}, "SendMessageBatch"
            )
        return self._client.send_message_batch(**kwargs)


@pytest.fixture
def plain_sqs() -> Iterator[Any]:
    # moto's in-process mock resets every backend, the local AWS's too: kept stages notice (cli_org.reuse).
    with mock_aws():
        yield boto3.client("sqs", region_name="eu-west-1")


def bodies(sqs: Any, url: str) -> list[str]:
    return sorted(m["Body"] for m in drain(sqs, url))


def test_a_destination_failing_half_way_loses_nothing(plain_sqs: Any) -> None:
    source = plain_sqs.create_queue(QueueName="dlq")["QueueUrl"]
    destination = plain_sqs.create_queue(QueueName="buffer")["QueueUrl"]
    sent = sorted(envelope(n, "m") for n in range(35))
    for body in sent:
        plain_sqs.send_message(QueueUrl=source, MessageBody=body)
    # WHEN the third batch cannot be sent
    report = MessageMover(plain_sqs, source, FailingOnSend(plain_sqs, 3), destination, wait_seconds=0).move()
    # THEN two batches moved, the run stopped, and every other message is back in the DLQ at once
    assert (report.moved, report.failed) == (20, 10)
    assert "ServiceUnavailable" in report.error
    moved, left = bodies(plain_sqs, destination), bodies(plain_sqs, source)
    assert len(moved) == 20
    assert len(left) == 15
    assert sorted(moved + left) == sent


def test_a_destination_deleted_mid_way_loses_nothing(plain_sqs: Any) -> None:
    source = plain_sqs.create_queue(QueueName="dlq")["QueueUrl"]
    destination = plain_sqs.create_queue(QueueName="buffer")["QueueUrl"]
    sent = sorted(envelope(n, "m") for n in range(25))
    for body in sent:
        plain_sqs.send_message(QueueUrl=source, MessageBody=body)
    delivered: list[str] = []

    def delete_destination_after_first_batch(moved: int) -> None:
        if moved == 10 and not delivered:
            delivered.extend(bodies(plain_sqs, destination))
            plain_sqs.delete_queue(QueueUrl=destination)

    report = MessageMover(plain_sqs, source, plain_sqs, destination, wait_seconds=0).move(
        progress=delete_destination_after_first_batch
    )
    assert report.moved == 10
    assert report.failed == 10
    assert report.error
    assert sorted(delivered + bodies(plain_sqs, source)) == sent


def test_the_mover_keeps_eventbridge_attributes_and_honours_the_limit(plain_sqs: Any) -> None:
    source = plain_sqs.create_queue(QueueName="rule-dlq")["QueueUrl"]
    destination = plain_sqs.create_queue(QueueName="buffer")["QueueUrl"]
    for n in range(12):
        plain_sqs.send_message(
            QueueUrl=source, MessageBody=envelope(n, "r"), MessageAttributes=EVENTBRIDGE_DLQ_ATTRIBUTES
        )
    report = MessageMover(plain_sqs, source, plain_sqs, destination, wait_seconds=0).move(limit=5)
    assert (report.moved, report.failed) == (5, 0)
    assert report.error_codes == {"CONNECTION_FAILURE": 5}
    arrived = drain(plain_sqs, destination)
    assert len(arrived) == 5
    assert all(m["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "CONNECTION_FAILURE" for m in arrived)
    assert len(drain(plain_sqs, source)) == 7


def test_plain_moto_has_no_message_move_task(plain_sqs: Any) -> None:
    # Why e2p keeps its own mover for the buffer DLQ too: backends without StartMessageMoveTask.
    # (The local AWS adds it; this pins plain moto 5.2.5's gap so an upgrade that fills it is noticed.)
    dlq = plain_sqs.create_queue(QueueName="dlq")["QueueUrl"]
    arn = plain_sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with pytest.raises(NotImplementedError):
        plain_sqs.start_message_move_task(SourceArn=arn)


def test_dead_letters_too_large_for_one_batch_are_sent_one_by_one(plain_sqs: Any) -> None:
    # GIVEN four dead letters of 300 KB each: one fits a message, the four together are over the
    # 1 MiB a SendMessageBatch may carry (SQS BatchRequestTooLong; moto enforces the same sum)
    source = plain_sqs.create_queue(QueueName="big-dlq")["QueueUrl"]
    destination = plain_sqs.create_queue(QueueName="buffer")["QueueUrl"]
    sent = sorted(json.dumps({"id": f"big-{n}", "pad": "x" * 300_000}) for n in range(4))
    for body in sent:
        plain_sqs.send_message(QueueUrl=source, MessageBody=body)
    with pytest.raises(ClientError, match="BatchRequestTooLong"):
        plain_sqs.send_message_batch(
            QueueUrl=destination, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(sent)]
        )
    # WHEN they are moved
    report = MessageMover(plain_sqs, source, plain_sqs, destination, wait_seconds=0).move()
    # THEN every one arrives, none is left behind, nothing failed
    assert (report.moved, report.failed, report.error) == (4, 0, "")
    assert bodies(plain_sqs, destination) == sent
    assert bodies(plain_sqs, source) == []


def member_dlq(stage: Stage, account: str, region: str) -> tuple[Any, str]:
    """The DLQ of the member stack in `account` x `region` (StackSet instance or management stack)."""
    cloudformation = stage.client("cloudformation", account, region)
    (stack,) = [
        s
        for s in cloudformation.describe_stacks()["Stacks"]
        if s["StackName"].startswith("StackSet-events2panther-member-")
        or s["StackName"] == "events2panther-member"
    ]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    return stage.client("sqs", account, region), outputs["DeadLetterQueueUrl"]


def test_member_dead_letters_go_to_the_central_buffer_per_account_and_region(
    shared_deployment: Stage, queues: tuple[Any, dict[str, str]]
) -> None:
    # GIVEN events EventBridge dead-lettered in two member account x region queues
    sqs, outputs = queues
    app = shared_deployment.layout.app_account
    chosen_sqs, chosen = member_dlq(shared_deployment, app, "us-east-1")
    other_sqs, other = member_dlq(shared_deployment, app, "eu-west-1")
    dead = {envelope(n, "member") for n in range(13)}
    for body in dead:
        chosen_sqs.send_message(
            QueueUrl=chosen, MessageBody=body, MessageAttributes=EVENTBRIDGE_DLQ_ATTRIBUTES
        )
    other_sqs.send_message(QueueUrl=other, MessageBody=envelope(0, "untouched"))
    # WHEN only that account and region are replayed
    code, data = shared_deployment.cli_json("replay", "--member", "--accounts", app, "--regions", "us-east-1")
    # THEN one row for it: everything moved to the central buffer, nothing left, the other queue untouched
    assert code == 0, data
    [row] = data["replays"]
    assert row["source"] == f"member DLQ {app} us-east-1"
    assert (row["moved"], row["failed"], row["left"]) == (13, 0, 0)
    assert "CONNECTION_FAILURE x13" in row["detail"]
    assert sorted(m["Body"] for m in drain(sqs, outputs["BufferQueueUrl"])) == sorted(dead)
    assert [m["Body"] for m in drain(other_sqs, other)] == [envelope(0, "untouched")]


def test_member_replay_dry_run_reports_every_member_queue(
    shared_deployment: Stage, queues: tuple[Any, dict[str, str]]
) -> None:
    code, data = shared_deployment.cli_json("replay", "--member", "--dry-run")
    assert code == 0, data
    sources = {row["source"] for row in data["replays"]}
    # Every StackSet instance and the management account's own stacks, per account x region.
    app = shared_deployment.layout.app_account
    assert {f"member DLQ {app} us-east-1", f"member DLQ {app} eu-west-1"} <= sources
    assert all(row["method"] == "dry run" for row in data["replays"])


def test_accounts_without_member_is_a_usage_error(shared_deployment: Stage) -> None:
    result = shared_deployment.cli("replay", "--accounts", "111111111111")
    assert result.exit_code == 2
