"""`e2p verify`: a marked event from every account x region, what reached the function, and why
the others did not.

The function is stood in for by a loop that takes each message off the buffer queue and runs the
handler's own test-event log line (handler.pipeline._log_test_event) with the local mode's log
shipper attached, so the line lands in the function's log group as Lambda would put it there;
moto cannot run the function, and the mapping and delivery steps have nothing to do with arrival.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cli_org import (  # noqa: F401
    CENTRAL_REGION,
    MANAGEMENT_ACCOUNT,
    REGIONS,
    Stage,
    local_aws_fixture,
    shared_deployment_fixture,
)

from e2p.local.function_logs import LogGroupShipper
from handler import pipeline
from handler.envelope import envelope_from_text

pytestmark = pytest.mark.functional


class ArrivalLogger:
    def __init__(self, stage: Stage) -> None:
        outputs = stage.central_outputs()
        self._sqs = stage.central("sqs")
        self._queue = outputs["BufferQueueUrl"]
        self._shipper = LogGroupShipper(stage.central("logs"), f"/aws/lambda/{outputs['FunctionName']}")
        self._logger = logging.getLogger(pipeline.__name__)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ArrivalLogger:
        self._level = self._logger.level
        self._logger.setLevel(logging.INFO)
        self._logger.addHandler(self._shipper)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._logger.removeHandler(self._shipper)
        self._logger.setLevel(self._level)

    def _run(self) -> None:
        while not self._stop.is_set():
            answer = self._sqs.receive_message(
                QueueUrl=self._queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            for message in answer.get("Messages", []):
                envelope = envelope_from_text(message["Body"])
                if envelope.source == "events2panther.test":
                    pipeline._log_test_event(envelope)
                self._sqs.delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])
            self._shipper.ship()
            time.sleep(0.05)


@pytest.fixture
def function(shared_deployment: Stage) -> Iterator[ArrivalLogger]:
    with ArrivalLogger(shared_deployment) as fake:
        yield fake


def cells(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, str]]:
    return {(c["account"], c["region"]): c for c in data["cells"]}


def expected_cells(stage: Stage) -> set[tuple[str, str]]:
    members = {stage.layout.central_account, stage.layout.audit_account, stage.layout.app_account}
    return {(account, region) for account in members | {MANAGEMENT_ACCOUNT} for region in REGIONS}


def test_every_account_and_region_arrives(shared_deployment: Stage, function: ArrivalLogger) -> None:
    code, data = shared_deployment.cli_json("verify", "--timeout", "30")
    assert code == 0, data
    assert set(data) >= {"arrived", "missing", "cells"}
    assert set(cells(data)) == expected_cells(shared_deployment)
    assert data["missing"] == 0
    assert data["arrived"] == len(expected_cells(shared_deployment))
    assert all(set(c) == {"account", "region", "status", "reason"} for c in data["cells"])


def test_a_disabled_rule_is_reported_missing_with_its_reason(
    shared_deployment: Stage, function: ArrivalLogger
) -> None:
    # GIVEN the member rule of one account x region disabled on purpose
    broken = (shared_deployment.layout.app_account, "us-east-1")
    events = shared_deployment.client("events", *broken)
    bus = shared_deployment.central_outputs()["EventBusArn"]
    (rule,) = events.list_rule_names_by_target(TargetArn=bus, EventBusName="default")["RuleNames"]
    events.disable_rule(Name=rule, EventBusName="default")
    try:
        # WHEN
        code, data = shared_deployment.cli_json("verify", "--timeout", "4")
    finally:
        events.enable_rule(Name=rule, EventBusName="default")
    # THEN that cell, and only it, is missing, with the reason; exit 1
    assert code == 1
    assert data["missing"] == 1
    missing = cells(data)[broken]
    assert missing["status"] == "missing"
    assert "disabled" in missing["reason"]
    assert all(c["status"] == "arrived" for key, c in cells(data).items() if key != broken)


def test_the_table_is_an_account_by_region_matrix(shared_deployment: Stage, function: ArrivalLogger) -> None:
    result = shared_deployment.cli("verify", "--timeout", "30")
    assert result.exit_code == 0, result.output
    assert "arrived, 0 missing" in result.stdout
    for region in REGIONS:
        assert region in result.stdout
