"""`e2p teardown`: nothing left behind, failures named, and only what e2p created is removed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cli_org import (
    CENTRAL_REGION,
    CENTRAL_STACK,
    CLEARED_ENV,
    FAKE_ENV,
    LOOKUP_STACK,
    MANAGEMENT_ACCOUNT,
    MEMBER_STACK,
    REGIONS,
    REPO,
    STACK_SET,
    OrgLayout,
    Stage,
    aws_client,
    build_organization,
    config_text,
    deployed_fixture,  # noqa: F401
    local_aws_fixture,  # noqa: F401
    results_by_step,
    shared_deployment_fixture,  # noqa: F401
    stack_status,
    stage_fixture,  # noqa: F401
)
from click.testing import CliRunner
from moto import mock_aws

from e2p.cli import main

pytestmark = pytest.mark.functional


MANAGED_BY = {"Key": "events2panther:managed-by", "Value": "e2p"}


def stack_set_exists(cloudformation: Any) -> bool:
    try:
        cloudformation.describe_stack_set(StackSetName=STACK_SET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "StackSetNotFoundException":
            return False
        raise
    return True


def plain_moto_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The staged CLI's fake environment, for tests that run the CLI on in-process moto."""
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("E2P_PROJECT_ROOT", str(REPO))


def org_with_stack_set(tags: list[dict[str, str]], config: Path) -> tuple[OrgLayout, Any]:
    """Inside mock_aws: the organisation, a StackSet of the configured name with `tags`, its config."""
    layout = build_organization(aws_client("organizations", None))
    cloudformation = aws_client("cloudformation", None, CENTRAL_REGION)
    cloudformation.create_stack_set(
        StackSetName=STACK_SET,
        TemplateBody='{"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}',
        PermissionModel="SERVICE_MANAGED",
        Tags=tags,
    )
    config.write_text(config_text(layout), encoding="utf-8")
    return layout, cloudformation


def test_answering_no_deletes_nothing(shared_deployment: Stage) -> None:
    result = shared_deployment.cli("teardown", input="n\n")
    assert result.exit_code == 1
    assert stack_set_exists(shared_deployment.client("cloudformation"))
    assert stack_status(shared_deployment.central("cloudformation"), CENTRAL_STACK) == "CREATE_COMPLETE"


def test_teardown_leaves_no_stack_stack_set_instance_or_bucket(deployed: Stage) -> None:
    # GIVEN a deployment, and the member stacks' ids (to look for them afterwards)
    management = deployed.client("cloudformation")
    instance_stacks = [
        (i["Account"], i["Region"], i["StackId"])
        for i in management.list_stack_instances(StackSetName=STACK_SET)["Summaries"]
    ]
    assert len(instance_stacks) == len(deployed.layout.member_accounts) * len(REGIONS)
    # AND deploy tagged the StackSet as e2p's, which is what lets teardown delete it without --force
    assert MANAGED_BY in management.describe_stack_set(StackSetName=STACK_SET)["StackSet"]["Tags"]
    bucket = next(
        p["ParameterValue"]
        for p in deployed.central("cloudformation").describe_stacks(StackName=CENTRAL_STACK)["Stacks"][0][
            "Parameters"
        ]
        if p["ParameterKey"] == "CodeBucket"
    )
    # WHEN tearing down
    code, data = deployed.cli_json("teardown", "--yes")
    # THEN everything is gone
    assert code == 0, data
    assert not stack_set_exists(management)
    for account, region, stack_id in instance_stacks:
        assert stack_status(deployed.client("cloudformation", account, region), stack_id) is None
    for region in REGIONS:
        assert (
            stack_status(deployed.client("cloudformation", MANAGEMENT_ACCOUNT, region), MEMBER_STACK) is None
        )
    assert (
        stack_status(deployed.client("cloudformation", MANAGEMENT_ACCOUNT, "us-east-1"), LOOKUP_STACK) is None
    )
    assert stack_status(deployed.central("cloudformation"), CENTRAL_STACK) is None
    buckets = [b["Name"] for b in deployed.central("s3").list_buckets()["Buckets"]]
    assert bucket not in buckets
    steps = results_by_step(data)
    assert steps["stack instances"][0]["detail"].startswith(str(len(instance_stacks)))
    # AND what is kept on purpose (DeletionPolicy Retain: data that would be lost) is named, with why
    retained = " ".join(row["detail"] for row in steps["retained"])
    for kept in (
        "AWS::KMS::Key Key",
        "BufferDeadLetterQueue",
        "RuleDeadLetterQueue",
        "member dead-letter queues",
    ):
        assert kept in retained, retained
    assert "schedule-key-deletion" in retained
    # AND a second teardown finds nothing to do
    code, again = deployed.cli_json("teardown", "--yes")
    assert code == 0, again
    assert {row["outcome"] for row in again["results"]} == {"no change"}


def test_a_code_bucket_e2p_did_not_create_is_kept(stage: Stage) -> None:
    # GIVEN the operator's own artifacts bucket named in the config (nothing else needs deploying)
    s3 = stage.central("s3")
    s3.create_bucket(
        Bucket="operators-artifacts", CreateBucketConfiguration={"LocationConstraint": CENTRAL_REGION}
    )
    s3.put_object(Bucket="operators-artifacts", Key="keep/me.zip", Body=b"zip")
    central = stage.layout.central_account
    config = stage.write_config(
        "own-bucket.toml",
        central=f"""
            [central]
            account_id = "{central}"
            region = "{CENTRAL_REGION}"
            role_arn = "arn:aws:iam::{central}:role/OrganizationAccountAccessRole"
            panther_url = "https://panther.example.com/api/event/create"
            code_bucket = "operators-artifacts"
        """,
    )
    # WHEN tearing down THEN the bucket and its objects stay
    code, data = stage.cli_json("teardown", "--yes", config=config)
    assert code == 0, data
    [row] = results_by_step(data)["code bucket"]
    assert row["outcome"] == "skipped"
    assert s3.list_objects_v2(Bucket="operators-artifacts")["KeyCount"] == 1


def test_instances_an_ou_deletion_missed_are_named_and_keep_the_central_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN plain moto, whose DeleteStackInstances ignores OU targets (LOCAL-AWS.md): the backend
    # answers "done" and deletes nothing, exactly the case teardown must not take on trust
    plain_moto_env(monkeypatch)
    config = tmp_path / "e2p.toml"
    with mock_aws():
        layout, cloudformation = org_with_stack_set([MANAGED_BY], config)
        cloudformation.create_stack_instances(
            StackSetName=STACK_SET,
            DeploymentTargets={"OrganizationalUnitIds": [layout.prod_ou]},
            Regions=list(REGIONS),
        )
        # WHEN tearing down
        result = CliRunner().invoke(main, ["teardown", "--yes", "--config", str(config), "--output", "json"])
        # THEN each instance still there is named with its account and region, the StackSet is kept,
        # and so is the central stack whose bus the remaining member rules target
        assert result.exit_code == 1, result.output
        data = json.loads(result.stdout)
        steps = results_by_step(data)
        remaining = {(r["account"], r["region"]) for r in steps["stack instance"] if r["outcome"] == "failed"}
        assert remaining == {(layout.app_account, region) for region in REGIONS}
        assert steps["stackset"][0]["outcome"] == "failed"
        assert steps["central stack"][0]["outcome"] == "skipped"
        assert len(cloudformation.list_stack_instances(StackSetName=STACK_SET)["Summaries"]) == len(REGIONS)


def test_a_stack_set_without_the_managed_by_tag_is_kept_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a StackSet of the configured name that e2p did not create (no managed-by tag), on plain
    # moto (no instances, so nothing depends on its OU-deletion gap)
    plain_moto_env(monkeypatch)
    config = tmp_path / "e2p.toml"
    with mock_aws():
        _, cloudformation = org_with_stack_set([{"Key": "team", "Value": "someone-else"}], config)
        command = ["teardown", "--yes", "--config", str(config), "--output", "json"]
        # WHEN tearing down THEN it is refused, by name, with the way to override it
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 1, result.output
        [row] = results_by_step(json.loads(result.stdout))["stackset"]
        assert row["outcome"] == "failed"
        assert "events2panther:managed-by" in row["detail"]
        assert "--force" in row["detail"]
        assert stack_set_exists(cloudformation)
        # AND with --force it is deleted
        forced = CliRunner().invoke(main, [*command, "--force"])
        [row] = results_by_step(json.loads(forced.stdout))["stackset"]
        assert row["outcome"] == "deleted", forced.output
        assert not stack_set_exists(cloudformation)
