"""`e2p status`: coverage account x region (nested OUs at any depth), management stacks, queues."""

from __future__ import annotations

import json

import pytest
from cli_org import (  # noqa: F401
    MANAGEMENT_ACCOUNT,
    REGIONS,
    STACK_SET,
    Stage,
    add_account,
    forget,
    local_aws_fixture,
    shared_deployment_fixture,
    stage_fixture,
)

from e2p.aws.organization import OrgAccount
from e2p.aws.stackset_ops import InstanceState
from e2p.ops.coverage import compute_coverage

pytestmark = pytest.mark.functional

STATUS_KEYS = {"coverage", "missing", "management", "queues", "alarms", "healthy"}
ROW_KEYS = {"account_id", "account_name", "region", "status", "reason"}


def test_a_complete_deployment_is_healthy_with_the_documented_json_shape(shared_deployment: Stage) -> None:
    code, report = shared_deployment.cli_json("status")
    assert code == 0, report
    assert set(report) >= STATUS_KEYS
    assert report["healthy"] is True
    assert report["missing"] == []
    layout = shared_deployment.layout
    assert all(set(row) == ROW_KEYS for row in report["coverage"])
    pairs = {(row["account_id"], row["region"]) for row in report["coverage"]}
    assert pairs == {(a, r) for a in layout.member_accounts for r in REGIONS}
    names = {row["account_id"]: row["account_name"] for row in report["coverage"]}
    assert names[layout.app_account] == "app-prod"
    assert {(m["account_id"], m["region"]) for m in report["management"]} == {
        (MANAGEMENT_ACCOUNT, r) for r in REGIONS
    }
    assert {name: q["total"] for name, q in report["queues"].items()} == {
        "buffer": 0,
        "buffer_dlq": 0,
        "rule_dlq": 0,
    }


def test_the_endpoint_can_come_from_aws_endpoint_url(shared_deployment: Stage) -> None:
    result = shared_deployment.cli("status", "--output", "json", endpoint_from_environment=True)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["healthy"] is True


def test_member_dead_letter_queues_are_read_in_every_account_and_region(shared_deployment: Stage) -> None:
    code, report = shared_deployment.cli_json("status", "--member-dlqs")
    assert code == 0, report
    read = {(q["account_id"], q["region"]) for q in report["queues"]["member_dlqs"] if q["error"] == ""}
    members = {(a, r) for a in shared_deployment.layout.member_accounts for r in REGIONS}
    assert read == members | {(MANAGEMENT_ACCOUNT, r) for r in REGIONS}


def test_a_message_in_a_dead_letter_queue_makes_status_exit_1(shared_deployment: Stage) -> None:
    sqs = shared_deployment.central("sqs")
    url = shared_deployment.central_outputs()["RuleDeadLetterQueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"id": "dead-lettered"}))
    try:
        code, report = shared_deployment.cli_json("status")
    finally:
        sqs.purge_queue(QueueUrl=url)
    assert code == 1
    assert report["healthy"] is False
    assert report["queues"]["rule_dlq"]["visible"] == 1
    assert report["missing"] == []


def test_pairs_without_an_instance_are_reported_missing_and_status_exits_1(shared_deployment: Stage) -> None:
    # GIVEN a region added to the config but not deployed yet (auto-deployment covers new accounts,
    # never new regions)
    layout = shared_deployment.layout
    config = shared_deployment.write_config(
        "new-region.toml",
        stackset=f"""
            [stackset]
            organizational_units = ["{layout.security_ou}", "{layout.prod_ou}"]
            regions = ["eu-west-1", "eu-central-1", "us-east-1"]
        """,
    )
    # WHEN status runs THEN every account is missing there, with a reason, and the exit code is 1
    code, report = shared_deployment.cli_json("status", config=config)
    assert code == 1
    missing = {(m["account_id"], m["region"], m["status"]) for m in report["missing"]}
    assert missing == {(account, "eu-central-1", "MISSING") for account in layout.member_accounts}
    assert all(m["reason"] for m in report["missing"])
    management = {m["region"]: m["status"] for m in report["management"]}
    assert management == {
        "eu-west-1": "CREATE_COMPLETE",
        "eu-central-1": "MISSING",
        "us-east-1": "CREATE_COMPLETE",
    }
    assert report["healthy"] is False


def test_an_account_created_deep_below_a_targeted_ou_is_expected(shared_deployment: Stage) -> None:
    # GIVEN an account created three levels below the targeted Prod OU after deployment
    forget("shared_deployment")  # the organisation changes
    org = shared_deployment.client("organizations", region="us-east-1")
    late = add_account(org, "late-deep", shared_deployment.layout.deep_ou, shared_deployment.layout.root_id)
    # WHEN status runs THEN the account is part of the expected coverage (AWS deploys to nested OUs),
    # covered here by StackSet auto-deployment
    code, report = shared_deployment.cli_json("status")
    rows = [row for row in report["coverage"] if row["account_id"] == late]
    assert sorted(row["region"] for row in rows) == sorted(REGIONS)
    assert {row["account_name"] for row in rows} == {"late-deep"}
    assert code == (0 if all(row["status"] == "SUCCEEDED" for row in rows) else 1)


def test_nothing_deployed_is_unhealthy_not_a_crash(stage: Stage) -> None:
    code, report = stage.cli_json("status")
    assert code == 1
    assert len(report["missing"]) == len(stage.layout.member_accounts) * len(REGIONS)
    assert report["errors"]


def test_failed_and_outdated_instances_do_not_count_as_coverage() -> None:
    # Pure: what AWS reports for a failed rollout must show as missing, with AWS's reason.
    accounts = [
        OrgAccount("111111111111", "one", "ACTIVE", "ou-a", "ou-a"),
        OrgAccount("222222222222", "two", "ACTIVE", "ou-a", "ou-a"),
    ]
    instances = [
        InstanceState("111111111111", "eu-west-1", "CURRENT", "SUCCEEDED"),
        InstanceState(
            "222222222222",
            "eu-west-1",
            "OUTDATED",
            "FAILED",
            "ResourceLogicalId:Rule, ResourceStatusReason: denied",
        ),
        InstanceState("333333333333", "eu-west-1", "CURRENT", "SUCCEEDED"),
    ]
    coverage = compute_coverage(accounts, ["eu-west-1", "us-east-1"], instances)
    assert [(r.account_id, r.region, r.status) for r in coverage.missing] == [
        ("111111111111", "us-east-1", "MISSING"),
        ("222222222222", "eu-west-1", "FAILED"),
        ("222222222222", "us-east-1", "MISSING"),
    ]
    assert "denied" in coverage.missing[1].reason
    assert [i.account for i in coverage.extra] == ["333333333333"]
