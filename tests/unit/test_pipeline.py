"""The pipeline's decisions per record, with in-memory fakes for the directory, Panther and the DLQ."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from dispatcher_fakes import AnswersAtOnce

from handler.decisions import Action
from handler.delivery.outcome import DeliveryOutcome, DeliveryStatus
from handler.enrichment.account import AccountInfo
from handler.exceptions import DeadLetterError
from handler.pipeline import Pipeline, Record

ACCOUNT = "111122223333"


def envelope(detail_type: str = "EC2 Instance State-change Notification", **detail: object) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": f"id-{detail_type}-{sorted(detail.items())}",
            "detail-type": detail_type,
            "source": "aws.ec2",
            "account": ACCOUNT,
            "time": "2026-11-28T10:00:00Z",
            "region": "eu-west-1",
            "resources": ["arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"],
            "detail": detail or {"instance-id": "i-0abc", "state": "stopped"},
        }
    )


class FakeDirectory:
    def __init__(self) -> None:
        self.invalidations = 0

    def lookup(self, account_id: str) -> AccountInfo:
        if account_id == ACCOUNT:
            return AccountInfo(account_id, name="Payments Prod", ou_path="Root/Workloads/Prod")
        return AccountInfo(account_id)

    def invalidate(self) -> None:
        self.invalidations += 1


class ScriptedDispatcher(AnswersAtOnce):
    """Answers each body with the status chosen for the resource its node ends with."""

    def __init__(self, status_for: dict[str, DeliveryStatus] | None = None) -> None:
        self.status_for = status_for or {}
        self.sent: list[dict[str, object]] = []

    def deliver_all(
        self, items: Sequence[tuple[str, bytes]], deadline: float | None
    ) -> list[DeliveryOutcome]:
        outcomes = []
        for _cid, body in items:
            event = json.loads(body)["event"]
            self.sent.append(event)
            status = next(
                (s for key, s in self.status_for.items() if str(event["node"]).endswith(key)),
                DeliveryStatus.DELIVERED,
            )
            http = {DeliveryStatus.PERMANENT: 400, DeliveryStatus.RETRYABLE: 503}.get(status, 200)
            outcomes.append(DeliveryOutcome(status, 1, http, f"http {http}", 1.0))
        return outcomes


class FakeDeadLetters:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.messages: list[tuple[str, str]] = []

    def send(self, body: str, reason: str, event_id: str, receive_count: str) -> None:
        if self.fail:
            raise DeadLetterError("queue gone")
        self.messages.append((body, reason))


def run(
    records: list[Record], dispatcher: ScriptedDispatcher | None = None, dlq: FakeDeadLetters | None = None
):
    dispatcher = dispatcher or ScriptedDispatcher()
    dlq = dlq or FakeDeadLetters()
    directory = FakeDirectory()
    report = Pipeline(directory, dispatcher, dlq).process(records, deadline=None)
    return report, dispatcher, dlq, directory


def test_delivered_records_are_acknowledged_and_enriched() -> None:
    # GIVEN one well-formed EC2 event WHEN processed
    report, dispatcher, dlq, _ = run([Record("m1", envelope())])
    # THEN it is delivered, not retried, and the node names the account by its name
    assert report.lambda_response() == {"batchItemFailures": []}
    assert dispatcher.sent[0]["node"].startswith("Payments Prod/eu-west-1")
    assert dispatcher.sent[0]["ou_path"] == "Root/Workloads/Prod"
    assert dlq.messages == []


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"eventName": "RunInstances"}), ""])
def test_invalid_bodies_go_to_the_dead_letter_queue_with_a_reason(body: str) -> None:
    report, dispatcher, dlq, _ = run([Record("bad", body), Record("good", envelope())])
    assert report.failed_message_ids == []
    assert dispatcher.sent and len(dispatcher.sent) == 1
    assert dlq.messages[0][0] == body
    assert dlq.messages[0][1].startswith("invalid envelope:")


def test_retryable_failure_returns_only_that_record() -> None:
    dispatcher = ScriptedDispatcher({"i-0bad": DeliveryStatus.RETRYABLE})
    records = [
        Record("ok", envelope(**{"instance-id": "i-0good", "state": "stopped"})),
        Record("flaky", envelope(**{"instance-id": "i-0bad", "state": "stopped"})),
    ]
    report, _, dlq, _ = run(records, dispatcher)
    assert report.lambda_response() == {"batchItemFailures": [{"itemIdentifier": "flaky"}]}
    assert dlq.messages == []


def test_permanent_failure_is_dead_lettered_not_retried() -> None:
    dispatcher = ScriptedDispatcher({"i-0bad": DeliveryStatus.PERMANENT})
    report, _, dlq, _ = run(
        [Record("refused", envelope(**{"instance-id": "i-0bad", "state": "stopped"}))], dispatcher
    )
    assert report.failed_message_ids == []
    assert [reason for _, reason in dlq.messages] == ["http 400"]
    assert dict(report.decisions)["refused"].action is Action.DEAD_LETTER


def test_dead_letter_write_failure_falls_back_to_retry() -> None:
    report, _, _, _ = run([Record("bad", "not json")], dlq=FakeDeadLetters(fail=True))
    assert report.failed_message_ids == ["bad"]
    assert "dead-letter write failed" in dict(report.decisions)["bad"].reason


def test_filtered_events_are_acknowledged_without_delivery() -> None:
    body = json.dumps(
        {
            "id": "1",
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.secretsmanager",
            "account": ACCOUNT,
            "region": "us-east-1",
            "time": "2026-11-28T10:00:00Z",
            "detail": {
                "eventSource": "secretsmanager.amazonaws.com",
                "eventName": "GetSecretValue",
                "readOnly": True,
                # The forwarder's own function role (central stack events2panther-central).
                "userIdentity": {
                    "type": "AssumedRole",
                    "arn": "arn:aws:sts::1:assumed-role/events2panther-central-FunctionRole-AB12/fn",
                },
            },
        }
    )
    report, dispatcher, dlq, _ = run([Record("loop", body)])
    assert dispatcher.sent == [] and dlq.messages == [] and report.failed_message_ids == []
    assert dict(report.decisions)["loop"].reason.startswith("filtered:")
