"""The Lambda entry point wired for real: moto for Secrets Manager and SQS, the local Panther over HTTP.

Covers what only the whole handler shows: the token is read from its secret (and a rotation is
picked up after a 401), records are decided one by one, permanent failures land in the
dead-letter queue with their reason, and the token appears in no log line.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from e2p.local import LocalPanther
from handler import app
from handler import constants as env
from handler.config import load_settings
from handler.runtime import Runtime, build_runtime

EVENTS = Path(__file__).parents[1] / "events"
TOKEN = "tok-" + uuid.uuid4().hex  # 36 chars, printable; unique so a leak cannot be a coincidence


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def sqs_event(*bodies: str) -> dict[str, object]:
    return {
        "Records": [
            {"messageId": f"m{i}", "body": body, "attributes": {"ApproximateReceiveCount": "1"}}
            for i, body in enumerate(bodies)
        ]
    }


def sample(relative: str) -> str:
    return (EVENTS / relative).read_text()


@pytest.fixture
def panther() -> Iterator[LocalPanther]:
    with LocalPanther(TOKEN) as receiver:
        yield receiver


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with mock_aws():
        secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="panther-token", SecretString=json.dumps({"token": TOKEN})
        )
        dlq = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="e2p-dlq")["QueueUrl"]
        yield {"secret_arn": secret["ARN"], "dlq_url": dlq}


def runtime_for(aws: dict[str, str], panther: LocalPanther, **extra: str) -> Runtime:
    settings = load_settings(
        {
            env.PANTHER_URL: panther.url,
            env.ALLOW_INSECURE_HTTP: "true",
            env.TOKEN_SECRET_ID: aws["secret_arn"],
            env.DEAD_LETTER_QUEUE_URL: aws["dlq_url"],
            env.READ_TIMEOUT_SECONDS: "2",
            env.MAX_ATTEMPTS: "2",
            **extra,
        }
    )
    return build_runtime(settings, boto3.Session(region_name="us-east-1"))


def dead_letters(aws: dict[str, str]) -> list[dict[str, object]]:
    answer = boto3.client("sqs", region_name="us-east-1").receive_message(
        QueueUrl=aws["dlq_url"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return answer.get("Messages", [])


def test_a_mixed_batch_is_decided_record_by_record(aws, panther, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    runtime = runtime_for(aws, panther)
    # GIVEN a GuardDuty finding, a Security Hub event with several findings and a broken body
    event = sqs_event(
        sample("guardduty/high.json"),
        sample("securityhub/several-findings-resolved-and-passed.json"),
        "{not json",
    )
    # WHEN the handler runs
    report = app.handle(event, Context(), runtime)
    # THEN nothing is retried, every finding reached Panther, and the broken body is dead-lettered
    assert report.lambda_response() == {"batchItemFailures": []}
    findings = len(
        json.loads(sample("securityhub/several-findings-resolved-and-passed.json"))["detail"]["findings"]
    )
    assert panther.received == 1 + findings
    parked = dead_letters(aws)
    assert [m["Body"] for m in parked] == ["{not json"]
    assert parked[0]["MessageAttributes"]["e2p_reason"]["StringValue"].startswith("invalid envelope")
    assert TOKEN not in caplog.text


def test_an_unreachable_panther_returns_records_for_retry(aws, panther) -> None:
    runtime = runtime_for(aws, panther)
    panther.stop()
    report = app.handle(sqs_event(sample("guardduty/high.json")), Context(), runtime)
    assert report.lambda_response() == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert dead_letters(aws) == []


def test_a_rotated_token_is_picked_up_after_a_401(aws, panther) -> None:
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    sm.put_secret_value(SecretId=aws["secret_arn"], SecretString="stale-token-value")
    runtime = runtime_for(aws, panther, **{env.TOKEN_CACHE_SECONDS: "3600"})
    # The first read caches the stale value; rotation then puts the real one in the secret.
    first = app.handle(sqs_event(sample("guardduty/high.json")), Context(), runtime)
    assert first.failed_message_ids == []
    sm.put_secret_value(SecretId=aws["secret_arn"], SecretString=TOKEN)
    second = app.handle(sqs_event(sample("guardduty/high.json")), Context(), runtime)
    assert second.lambda_response() == {"batchItemFailures": []}
    assert panther.received == 1
    # the first message was refused twice (stale token, re-read still stale): dead-lettered with the reason
    parked = dead_letters(aws)
    assert len(parked) == 1
    reason = parked[0]["MessageAttributes"]["e2p_reason"]["StringValue"]
    assert reason.startswith("HTTP 401")
    assert "re-read token" in reason


def test_lambda_handler_reads_its_configuration_from_the_environment(
    aws, panther, monkeypatch, capsys
) -> None:
    monkeypatch.setenv(env.PANTHER_URL, panther.url)
    monkeypatch.setenv(env.ALLOW_INSECURE_HTTP, "true")
    monkeypatch.setenv(env.TOKEN_SECRET_ID, aws["secret_arn"])
    monkeypatch.setenv(env.DEAD_LETTER_QUEUE_URL, aws["dlq_url"])
    monkeypatch.setattr(app, "_runtime", None)
    response = app.lambda_handler(sqs_event(sample("ec2/state-running.json")), Context())
    assert response == {"batchItemFailures": []}
    assert panther.received == 1
    printed = capsys.readouterr().out
    assert "MessagesDelivered" in printed  # the CloudWatch embedded metric line
    assert TOKEN not in printed
