"""`e2p send-test-event`: the event takes the real path, and the command claims only what it saw."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_org import (
    MANAGEMENT_ACCOUNT,
    Stage,
    deploy,
    local_aws_fixture,  # noqa: F401
    make_stage,
    project_root,
    reuse,
    shared_deployment_fixture,  # noqa: F401
)
from e2p.cfn_template import load_template

pytestmark = pytest.mark.functional

TEST_SOURCE = "events2panther.test"


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


def pattern_with_test_source(root: Path) -> str:
    """The member template's default pattern plus a branch for the test source."""
    template = load_template((root / "member" / "template.yaml").read_text(encoding="utf-8"))
    pattern = json.loads(template["Parameters"]["EventPattern"]["Default"])
    pattern["$or"].append({"source": [TEST_SOURCE]})
    return json.dumps(pattern)


@pytest.fixture
def test_source_deployment(local_aws: Any, tmp_path_factory: pytest.TempPathFactory) -> Stage:
    """A deployment whose member rules also forward the test source."""

    def build() -> Stage:
        root = project_root(tmp_path_factory)
        stage = make_stage(local_aws, tmp_path_factory.mktemp("test-source"), root)
        (stage.config.parent / "pattern.json").write_text(pattern_with_test_source(root), encoding="utf-8")
        stage.config = stage.write_config(
            "with-test-source.toml",
            member="""
                [member]
                event_pattern_file = "pattern.json"
            """,
        )
        deploy(stage)
        return stage

    return reuse("test_source_deployment", build)


@pytest.fixture
def function(test_source_deployment: Stage) -> Iterator[FakeFunction]:
    with FakeFunction(test_source_deployment) as fake:
        yield fake


def checks(data: dict[str, Any]) -> dict[str, str]:
    return {check["name"]: check["verdict"] for check in data["checks"]}


def test_central_path_is_verified_by_the_function_log(
    test_source_deployment: Stage, function: FakeFunction
) -> None:
    code, data = test_source_deployment.cli_json("send-test-event", "--central", "--timeout", "20")
    assert code == 0, data
    assert checks(data) == {"put_events": "verified", "handler": "verified", "panther": "not checked"}
    assert data["verified"] is True
    assert data["destination"].endswith(":event-bus/events2panther")


def test_member_path_through_the_management_account_rule(
    test_source_deployment: Stage, function: FakeFunction
) -> None:
    code, data = test_source_deployment.cli_json("send-test-event", "--timeout", "20")
    assert code == 0, data
    assert (data["account_id"], data["region"]) == (MANAGEMENT_ACCOUNT, "eu-west-1")
    assert checks(data)["handler"] == "verified"
    assert checks(data)["member rule"] in {"verified", "not checked"}


def test_member_path_from_a_member_account_and_region(
    test_source_deployment: Stage, function: FakeFunction
) -> None:
    account = test_source_deployment.layout.app_account
    code, data = test_source_deployment.cli_json(
        "send-test-event", "--account", account, "--region", "us-east-1", "--timeout", "20"
    )
    assert code == 0, data
    assert (data["account_id"], data["region"]) == (account, "us-east-1")
    assert checks(data)["handler"] == "verified"


def test_nothing_is_claimed_when_the_function_never_logs_the_event(test_source_deployment: Stage) -> None:
    code, data = test_source_deployment.cli_json("send-test-event", "--central", "--timeout", "0.3")
    assert code == 1
    assert checks(data)["put_events"] == "verified"
    assert checks(data)["handler"] == "not verified"
    assert data["verified"] is False
    sqs = test_source_deployment.central("sqs")
    sqs.purge_queue(QueueUrl=test_source_deployment.central_outputs()["BufferQueueUrl"])


def test_the_default_pattern_does_not_forward_the_test_source(shared_deployment: Stage) -> None:
    # The default member pattern takes AWS sources only: the command must not report a success.
    code, data = shared_deployment.cli_json("send-test-event", "--timeout", "0.3")
    assert code == 1
    assert data["verified"] is False
    assert checks(data).get("handler") == "not verified" or checks(data).get("member rule") == "failed"


def test_an_account_id_must_be_twelve_digits(shared_deployment: Stage) -> None:
    result = shared_deployment.cli("send-test-event", "--account", "12345")
    assert result.exit_code == 2
    assert "12-digit" in result.stderr
