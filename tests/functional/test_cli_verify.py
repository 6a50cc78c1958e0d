"""`e2p verify`: a marked event from every account x region, what reached the function, and why
the others did not. The function is stood in for by arrivals.ArrivalLogger (moto cannot run it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from arrivals import ArrivalLogger
from cli_org import (  # noqa: F401
    CENTRAL_REGION,
    MANAGEMENT_ACCOUNT,
    REGIONS,
    Stage,
    local_aws_fixture,
    shared_deployment_fixture,
)

pytestmark = pytest.mark.functional


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


def test_a_rule_without_the_bus_target_names_the_stack_instance(
    shared_deployment: Stage, function: ArrivalLogger
) -> None:
    # GIVEN the member rule of one account x region no longer targeting the central bus
    broken = (shared_deployment.layout.app_account, "us-east-1")
    events = shared_deployment.client("events", *broken)
    bus = shared_deployment.central_outputs()["EventBusArn"]
    (rule,) = events.list_rule_names_by_target(TargetArn=bus, EventBusName="default")["RuleNames"]
    targets = events.list_targets_by_rule(Rule=rule, EventBusName="default")["Targets"]
    events.remove_targets(Rule=rule, EventBusName="default", Ids=[t["Id"] for t in targets])
    try:
        # WHEN
        code, data = shared_deployment.cli_json("verify", "--timeout", "4")
    finally:
        events.put_targets(Rule=rule, EventBusName="default", Targets=targets)
    # THEN the reason names the stack instance of that cell and its status (StackSet's own view)
    assert code == 1
    reason = cells(data)[broken]["reason"]
    assert reason.startswith("no rule targets the central bus"), reason
    assert "(stack instance CURRENT)" in reason or "(stack instance SUCCEEDED)" in reason, reason


def test_the_table_is_an_account_by_region_matrix(shared_deployment: Stage, function: ArrivalLogger) -> None:
    result = shared_deployment.cli("verify", "--timeout", "30")
    assert result.exit_code == 0, result.output
    assert "arrived, 0 missing" in result.stdout
    for region in REGIONS:
        assert region in result.stdout
