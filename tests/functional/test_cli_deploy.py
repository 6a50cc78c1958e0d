"""`e2p deploy` against the local AWS: every stack, in order, with the real templates; idempotent."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from cli_org import (  # noqa: F401 - fixtures
    CENTRAL_REGION,
    CENTRAL_STACK,
    LOOKUP_STACK,
    MANAGEMENT_ACCOUNT,
    MEMBER_STACK,
    PANTHER_URL,
    REGIONS,
    STACK_SET,
    Stage,
    aws_client,
    central_stack_alive,
    deploy,
    deployed_fixture,
    forget,
    local_aws_fixture,
    make_stage,
    project_root,
    results_by_step,
    reuse,
    stack_status,
    stage_fixture,
)

from e2p.ops.deployment import CENTRAL_OUTPUTS

pytestmark = pytest.mark.functional

# The template <-> CLI contract (central/template.yaml outputs and the function's environment).
CONTRACT_ENVIRONMENT = {
    "E2P_PANTHER_URL",
    "E2P_TOKEN_SECRET_ID",
    "E2P_ALLOW_INSECURE_HTTP",
    "E2P_DEAD_LETTER_QUEUE_URL",
    "E2P_ORG_LOOKUP_ROLE_ARN",
    "E2P_ACCOUNT_TAG_KEYS",
    "E2P_IDEMPOTENCY_TABLE",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}
UNCHANGED = {"no change", "ok", "skipped"}


@pytest.fixture
def first_run(local_aws: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Stage, dict[str, Any]]:
    def build() -> tuple[Stage, dict[str, Any]]:
        stage = make_stage(local_aws, tmp_path_factory.mktemp("deploy"), project_root(tmp_path_factory))
        return stage, deploy(stage)

    return reuse("first_run", build, alive=lambda run: central_stack_alive(run[0]))


def test_deploy_reports_each_step_with_its_account_and_region(
    first_run: tuple[Stage, dict[str, Any]],
) -> None:
    # GIVEN a fresh organisation WHEN deploy runs THEN every step created something, where expected
    stage, data = first_run
    steps = results_by_step(data)
    assert data["failed"] == 0
    assert [r["outcome"] for r in steps["central stack"]] == ["created"]
    assert steps["central stack"][0]["account"] == stage.layout.central_account
    assert steps["central stack"][0]["region"] == CENTRAL_REGION
    assert (steps["org lookup role"][0]["account"], steps["org lookup role"][0]["region"]) == (
        MANAGEMENT_ACCOUNT,
        "us-east-1",
    )
    assert steps["stackset"][0]["outcome"] == "created"
    assert steps["stack instances"][0]["outcome"] == "created"
    assert sorted(r["region"] for r in steps["management stack"]) == sorted(REGIONS)
    assert {r["outcome"] for r in steps["management stack"]} == {"created"}
    # The central stack must exist before anything targets its bus.
    order = [row["step"] for row in data["results"]]
    assert order.index("central stack") < order.index("stackset") < order.index("management stack")


def test_central_stack_has_the_contract_outputs_and_function_environment(
    first_run: tuple[Stage, dict[str, Any]],
) -> None:
    stage, _ = first_run
    outputs = stage.central_outputs()
    assert set(outputs) >= set(CENTRAL_OUTPUTS)
    function = stage.central("lambda").get_function_configuration(FunctionName=outputs["FunctionName"])
    environment = function["Environment"]["Variables"]
    assert set(environment) >= CONTRACT_ENVIRONMENT
    assert environment["E2P_PANTHER_URL"] == PANTHER_URL
    assert environment["E2P_TOKEN_SECRET_ID"] == outputs["TokenSecretArn"]
    assert (
        environment["E2P_ORG_LOOKUP_ROLE_ARN"]
        == f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/events2panther-org-lookup"
    )
    assert environment["E2P_ACCOUNT_TAG_KEYS"] == "team"
    assert function["Handler"] == "handler.app.lambda_handler"


def test_code_bucket_is_private_versioned_encrypted_and_holds_the_zip(
    first_run: tuple[Stage, dict[str, Any]],
) -> None:
    stage, _ = first_run
    parameters = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in stage.central("cloudformation").describe_stacks(StackName=CENTRAL_STACK)["Stacks"][0][
            "Parameters"
        ]
    }
    s3 = stage.central("s3")
    bucket, key = parameters["CodeBucket"], parameters["CodeKey"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    # The key is the zip's content hash, so the same code is never uploaded under two names.
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert key == f"lambda/{hashlib.sha256(body).hexdigest()}.zip"


def test_lookup_role_trusts_only_the_function_and_the_directory_refresh(
    first_run: tuple[Stage, dict[str, Any]],
) -> None:
    stage, _ = first_run
    cloudformation = stage.client("cloudformation", MANAGEMENT_ACCOUNT, "us-east-1")
    assert stack_status(cloudformation, LOOKUP_STACK) == "CREATE_COMPLETE"
    role = stage.client("iam").get_role(RoleName="events2panther-org-lookup")["Role"]
    document = role["AssumeRolePolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    principals = [s["Principal"]["AWS"] for s in document["Statement"]]
    outputs = stage.central_outputs()
    assert principals == [[outputs["FunctionRoleArn"], outputs["ScheduledFunctionRoleArn"]]]


def test_stackset_instances_cover_every_member_account_in_every_region(
    first_run: tuple[Stage, dict[str, Any]],
) -> None:
    stage, _ = first_run
    cloudformation = stage.client("cloudformation")
    stack_set = cloudformation.describe_stack_set(StackSetName=STACK_SET)["StackSet"]
    assert stack_set["PermissionModel"] == "SERVICE_MANAGED"
    instances = cloudformation.list_stack_instances(StackSetName=STACK_SET)["Summaries"]
    pairs = {(i["Account"], i["Region"]) for i in instances}
    assert pairs == {(account, region) for account in stage.layout.member_accounts for region in REGIONS}
    # Each instance is a real stack whose rule targets the central bus.
    bus = stage.central_outputs()["EventBusArn"]
    for instance in instances:
        events = stage.client("events", instance["Account"], instance["Region"])
        assert events.list_rule_names_by_target(TargetArn=bus)["RuleNames"], instance


def test_management_account_gets_ordinary_member_stacks_in_each_region(
    first_run: tuple[Stage, dict[str, Any]],
) -> None:
    stage, _ = first_run
    bus = stage.central_outputs()["EventBusArn"]
    for region in REGIONS:
        stack = stage.client("cloudformation", MANAGEMENT_ACCOUNT, region).describe_stacks(
            StackName=MEMBER_STACK
        )
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Stacks"][0]["Parameters"]}
        assert stack["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        assert parameters["CentralEventBusArn"] == bus


TOKEN = "pnthr-test-token-0123456789"


def role_credentials(stage: Stage, outputs: dict[str, str]) -> dict[str, str]:
    credentials = aws_client("sts", stage.endpoint).assume_role(
        RoleArn=outputs["FunctionRoleArn"], RoleSessionName="as-function"
    )["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


@pytest.fixture
def second_run(first_run: tuple[Stage, dict[str, Any]]) -> tuple[Stage, Any]:
    """A second deploy of the same inputs, this time with a token file."""
    stage, _ = first_run

    def build() -> tuple[Stage, Any]:
        token_file = stage.config.parent / "token.txt"
        token_file.write_text(TOKEN + "\n", encoding="utf-8")
        return stage, stage.cli("deploy", "--yes", "--token-file", str(token_file), "--output", "json")

    return reuse("second_run", build)


@pytest.fixture
def third_run(second_run: tuple[Stage, Any]) -> tuple[Stage, int, dict[str, Any]]:
    """And a third, with the same token: nothing at all to do."""
    stage, _ = second_run

    def build() -> tuple[Stage, int, dict[str, Any]]:
        code, data = stage.cli_json("deploy", "--yes", "--token-file", str(stage.config.parent / "token.txt"))
        return stage, code, data

    return reuse("third_run", build)


def test_the_token_is_stored_from_a_file_and_never_echoed(second_run: tuple[Stage, Any]) -> None:
    stage, result = second_run
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    assert results_by_step(json.loads(result.stdout))["token"][0]["outcome"] == "updated"
    outputs = stage.central_outputs()
    # Only the function role may read it (the secret's policy): read it as the function does.
    as_function = aws_client(
        "secretsmanager", stage.endpoint, CENTRAL_REGION, **role_credentials(stage, outputs)
    )
    assert as_function.get_secret_value(SecretId=outputs["TokenSecretArn"])["SecretString"] == TOKEN


def test_a_redeploy_changes_nothing_but_the_token(second_run: tuple[Stage, Any]) -> None:
    _, result = second_run
    data = json.loads(result.stdout)
    changed = {row["step"] for row in data["results"] if row["outcome"] not in UNCHANGED}
    assert changed == {"token"}
    steps = results_by_step(data)
    for step in (
        "central stack",
        "package",
        "code bucket",
        "org lookup role",
        "stackset",
        "stack instances",
        "management stack",
    ):
        assert {row["outcome"] for row in steps[step]} == {"no change"}, step


def test_a_third_deploy_changes_nothing(third_run: tuple[Stage, int, dict[str, Any]]) -> None:
    _, code, data = third_run
    assert code == 0
    changed = [row for row in data["results"] if row["outcome"] not in UNCHANGED]
    assert changed == []


def test_the_same_token_is_not_written_again(third_run: tuple[Stage, int, dict[str, Any]]) -> None:
    _, code, data = third_run
    assert code == 0
    assert results_by_step(data)["token"][0]["outcome"] == "no change"


def test_token_from_stdin_needs_yes(first_run: tuple[Stage, dict[str, Any]]) -> None:
    stage, _ = first_run
    result = stage.cli("deploy", "--token-stdin", input="secret-token\n")
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert "secret-token" not in result.output


def test_a_region_added_later_gets_its_instances_and_management_stack(
    first_run: tuple[Stage, dict[str, Any]],
) -> None:
    stage, _ = first_run
    forget("first_run")  # this test changes the deployment
    config = stage.write_config(
        "more-regions.toml",
        stackset=f"""
            [stackset]
            organizational_units = ["{stage.layout.security_ou}", "{stage.layout.prod_ou}"]
            regions = ["eu-west-1", "eu-central-1", "us-east-1"]
        """,
    )
    code, data = stage.cli_json("deploy", "--yes", config=config)
    assert code == 0, data
    steps = results_by_step(data)
    assert steps["stack instances"][0]["outcome"] == "created"
    instances = stage.client("cloudformation").list_stack_instances(StackSetName=STACK_SET)["Summaries"]
    assert {i["Account"] for i in instances if i["Region"] == "eu-central-1"} == set(
        stage.layout.member_accounts
    )
    by_region = {r["region"]: r["outcome"] for r in steps["management stack"]}
    assert by_region == {"eu-west-1": "no change", "eu-central-1": "created", "us-east-1": "no change"}


def test_a_failed_step_names_its_account_and_region_and_the_rest_goes_on(stage: Stage) -> None:
    # GIVEN a role that already has the lookup role's fixed name in the management account
    stage.client("iam").create_role(RoleName="events2panther-org-lookup", AssumeRolePolicyDocument="{}")
    # WHEN deploying THEN that step fails, named, and the steps that do not depend on it still run
    code, data = stage.cli_json("deploy", "--yes", "--activate-trusted-access")
    assert code == 1
    steps = results_by_step(data)
    failed = [row for row in data["results"] if row["outcome"] == "failed"]
    assert [(r["step"], r["account"], r["region"]) for r in failed] == [
        ("org lookup role", MANAGEMENT_ACCOUNT, "us-east-1")
    ]
    assert "events2panther-org-lookup" in failed[0]["detail"]
    assert steps["stackset"][0]["outcome"] == "created"
    assert {r["outcome"] for r in steps["management stack"]} == {"created"}
    # WHEN the conflict is removed and deploy runs again THEN the rolled-back stack is replaced
    stage.client("iam").delete_role(RoleName="events2panther-org-lookup")
    code, data = stage.cli_json("deploy", "--yes")
    assert code == 0, data
    assert results_by_step(data)["org lookup role"][0]["outcome"] == "created"
