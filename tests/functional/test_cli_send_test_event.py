"""`e2p send-test-event`: the event takes the real path, and the command claims only what it saw.

The shared deployment's member rules forward the test source (cli_org.pattern_with_test_source);
the template's default pattern takes AWS sources only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cli_org import (  # noqa: F401
    CENTRAL_REGION,
    MANAGEMENT_ACCOUNT,
    Stage,
    local_aws_fixture,
    shared_deployment_fixture,
)

pytestmark = pytest.mark.functional


class FakeFunction:
    """Stands in for the Lambda function (moto cannot run it): takes each message off the buffer
    queue and writes it to the function's log group, as the handler logs each event it handles."""

    def __init__(self, stage: Stage) -> None:
        outputs = stage.central_outputs()
        self._sqs = stage.central("sqs")
        self._logs = stage.central("logs")
        self._queue = outputs["BufferQueueUrl"]
        self._group = f"/aws/lambda/{outputs['FunctionName']}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FakeFunction:
        self._stream = f"fake-{time.time_ns()}"
        self._logs.create_log_stream(logGroupName=self._group, logStreamName=self._stream)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            messages = self._sqs.receive_message(
                QueueUrl=self._queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            for message in messages.get("Messages", []):
                self._logs.put_log_events(
                    logGroupName=self._group,
                    logStreamName=self._stream,
                    logEvents=[{"timestamp": int(time.time() * 1000), "message": message["Body"]}],
                )
                self._sqs.delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])
            time.sleep(0.05)


@pytest.fixture
def function(shared_deployment: Stage) -> Iterator[FakeFunction]:
    with FakeFunction(shared_deployment) as fake:
        yield fake


def checks(data: dict[str, Any]) -> dict[str, str]:
    return {check["name"]: check["verdict"] for check in data["checks"]}


def test_central_path_is_verified_by_the_function_log(
    shared_deployment: Stage, function: FakeFunction
) -> None:
    code, data = shared_deployment.cli_json("send-test-event", "--central", "--timeout", "20")
    assert code == 0, data
    assert checks(data) == {"put_events": "verified", "handler": "verified", "panther": "not checked"}
    assert data["verified"] is True
    assert data["destination"].endswith(":event-bus/events2panther")
    # From the central account in the central region: the bus policy admits only forwarder roles of
    # other accounts, and PutEvents reaches a bus in the endpoint's own region.
    assert (data["account_id"], data["region"]) == (shared_deployment.layout.central_account, CENTRAL_REGION)


def test_central_path_refuses_another_region(shared_deployment: Stage) -> None:
    result = shared_deployment.cli("send-test-event", "--central", "--region", "us-east-1")
    assert result.exit_code == 2
    assert f"central bus in {CENTRAL_REGION}" in result.stderr


def test_member_path_through_the_management_account_rule(
    shared_deployment: Stage, function: FakeFunction
) -> None:
    code, data = shared_deployment.cli_json("send-test-event", "--timeout", "20")
    assert code == 0, data
    assert (data["account_id"], data["region"]) == (MANAGEMENT_ACCOUNT, "eu-west-1")
    assert checks(data)["handler"] == "verified"
    assert checks(data)["member rule"] in {"verified", "not checked"}


def test_member_path_from_a_member_account_and_region(
    shared_deployment: Stage, function: FakeFunction
) -> None:
    account = shared_deployment.layout.app_account
    code, data = shared_deployment.cli_json(
        "send-test-event", "--account", account, "--region", "us-east-1", "--timeout", "20"
    )
    assert code == 0, data
    assert (data["account_id"], data["region"]) == (account, "us-east-1")
    assert checks(data)["handler"] == "verified"


def test_nothing_is_claimed_when_the_function_never_logs_the_event(shared_deployment: Stage) -> None:
    code, data = shared_deployment.cli_json("send-test-event", "--central", "--timeout", "0.3")
    assert code == 1
    assert checks(data)["put_events"] == "verified"
    assert checks(data)["handler"] == "not verified"
    assert data["verified"] is False
    sqs = shared_deployment.central("sqs")
    sqs.purge_queue(QueueUrl=shared_deployment.central_outputs()["BufferQueueUrl"])


def test_an_account_id_must_be_twelve_digits(shared_deployment: Stage) -> None:
    result = shared_deployment.cli("send-test-event", "--account", "12345")
    assert result.exit_code == 2
    assert "12-digit" in result.stderr
