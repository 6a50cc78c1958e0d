"""The deployment's security rules, end to end on the local AWS through `e2p deploy` (issue 13):
a code bucket of another account is refused, only the function reads the token, only the deployer
writes the code, a function whose code changed outside e2p fails the deploy loudly, and a test event
forged by a member account reaches the local Panther with the fixed summary and severity."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cli_org import (  # noqa: F401 - fixtures
    CENTRAL_REGION,
    CENTRAL_STACK,
    MANAGEMENT_ACCOUNT,
    Stage,
    aws_client,
    forget,
    local_aws_fixture,
    make_stage,
    pattern_with_test_source,
    project_root,
    results_by_step,
    reuse,
    stack_status,
    stage_fixture,
)

from e2p.aws.code_bucket import default_bucket_name
from e2p.aws.token_secret import token_version_id
from e2p.local.function_host import LocalFunction, environment, read_deployed_function, role_session
from e2p.local.panther import LocalPanther

pytestmark = pytest.mark.functional
# Tests share one deployment; the last one changes it (see forget()).

TOKEN = "pnthr-security-token-0123456789"


def role_client(stage: Stage, service: str, role_arn: str) -> Any:
    credentials = aws_client("sts", stage.endpoint).assume_role(RoleArn=role_arn, RoleSessionName="sec-test")[
        "Credentials"
    ]
    return aws_client(
        service,
        stage.endpoint,
        CENTRAL_REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


@pytest.fixture(scope="module")
def panther() -> Iterator[LocalPanther]:
    with LocalPanther(TOKEN) as local:
        yield local


@pytest.fixture
def secured(
    local_aws: Any, tmp_path_factory: pytest.TempPathFactory, panther: LocalPanther
) -> tuple[Stage, dict[str, Any]]:
    """One deployment with a token, whose function posts to the local Panther and whose member rules
    also forward the test source; shared by the tests of this module that leave it as it is."""

    def build() -> tuple[Stage, dict[str, Any]]:
        root = project_root(tmp_path_factory)
        stage = make_stage(local_aws, tmp_path_factory.mktemp("security"), root)
        (stage.config.parent / "pattern.json").write_text(pattern_with_test_source(root), encoding="utf-8")
        central = stage.layout.central_account
        stage.config = stage.write_config(
            "security.toml",
            central=f"""
                [central]
                account_id = "{central}"
                region = "{CENTRAL_REGION}"
                role_arn = "arn:aws:iam::{central}:role/OrganizationAccountAccessRole"
                panther_url = "{panther.url}"
                allow_insecure_http = true
            """,
            member="""
                [member]
                event_pattern_file = "pattern.json"
            """,
        )
        token_file = stage.config.parent / "token.txt"
        token_file.write_text(TOKEN + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        _code, data = stage.cli_json("deploy", "--yes", "--token-file", str(token_file))
        # What these tests need: the central stack, its code check, the token and the management
        # account's member stacks (a StackSet problem elsewhere is another test's business).
        steps = results_by_step(data)
        for step in ("central stack", "function code", "token", "management stack"):
            assert {row["outcome"] for row in steps[step]} <= {"created", "updated", "ok"}, data
        return stage, data

    def alive(run: tuple[Stage, dict[str, Any]]) -> bool:
        return stack_status(run[0].central("cloudformation"), CENTRAL_STACK) is not None

    return reuse("security_deploy", build, alive=alive)


def test_a_code_bucket_registered_by_another_account_is_refused(stage: Stage) -> None:
    # GIVEN another account of the organisation registered the central account's predictable bucket name
    central = stage.layout.central_account
    bucket = default_bucket_name(central, CENTRAL_REGION)
    squatter = stage.client("s3", stage.layout.audit_account)
    squatter.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": CENTRAL_REGION})
    # WHEN deploy runs
    code, data = stage.cli_json("deploy", "--yes")
    # THEN the code bucket step fails naming the reason, no stack is built, and no code reached the bucket
    assert code == 1
    (row,) = results_by_step(data)["code bucket"]
    assert row["outcome"] == "failed"
    assert "not owned" in row["detail"] and central in row["detail"]
    assert results_by_step(data)["central stack"][0]["outcome"] == "skipped"
    assert stack_status(stage.central("cloudformation"), CENTRAL_STACK) is None
    assert squatter.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_only_the_function_role_reads_the_token(secured: tuple[Stage, dict[str, Any]]) -> None:
    stage, data = secured
    outputs = stage.central_outputs()
    secret = outputs["TokenSecretArn"]
    # GIVEN the token written by deploy (read back by version, never by value)
    assert results_by_step(data)["token"][0]["outcome"] == "updated"
    stages = stage.central("secretsmanager").describe_secret(SecretId=secret)["VersionIdsToStages"]
    assert "AWSCURRENT" in stages[token_version_id(secret, TOKEN)]
    # THEN the function role reads it
    as_function = role_client(stage, "secretsmanager", outputs["FunctionRoleArn"])
    assert as_function.get_secret_value(SecretId=secret)["SecretString"] == TOKEN
    # AND an administrator of the central account (its access role, any other role) is denied
    for principal in ("OrganizationAccountAccessRole", "PowerUser"):
        other = role_client(
            stage, "secretsmanager", f"arn:aws:iam::{stage.layout.central_account}:role/{principal}"
        )
        with pytest.raises(ClientError) as refused:
            other.get_secret_value(SecretId=secret)
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_only_the_deployer_writes_the_code_and_the_function_runs_the_pinned_version(
    secured: tuple[Stage, dict[str, Any]],
) -> None:
    stage, data = secured
    assert results_by_step(data)["function code"][0]["outcome"] == "ok"
    central = stage.layout.central_account
    stack = stage.central("cloudformation").describe_stacks(StackName=CENTRAL_STACK)["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    bucket, key, version = parameters["CodeBucket"], parameters["CodeKey"], parameters["CodeObjectVersion"]
    s3 = stage.central("s3")
    head = s3.head_object(
        Bucket=bucket, Key=key, VersionId=version, ExpectedBucketOwner=central, ChecksumMode="ENABLED"
    )
    assert head["VersionId"] == version
    # Uploaded with its SHA-256, which S3 checked and keeps: the one of the zip the key names.
    assert head["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(key.split("/")[1][:64])).decode()
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert {s["Sid"] for s in policy["Statement"]} == {"DenyInsecureTransport", "OnlyTheDeployerWritesCode"}
    # Another role of the central account cannot replace the code (the Deny, evaluated by the local AWS).
    developer = role_client(stage, "s3", f"arn:aws:iam::{central}:role/Developer")
    with pytest.raises(ClientError) as refused:
        developer.put_object(Bucket=bucket, Key=key, Body=b"not the function")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_forged_test_event_reaches_panther_with_the_fixed_summary(
    secured: tuple[Stage, dict[str, Any]], panther: LocalPanther
) -> None:
    stage, _ = secured
    # GIVEN any principal of an organisation account puts an event of the test source, dressed as a finding
    member = MANAGEMENT_ACCOUNT
    forged = {
        "Source": "events2panther.test",
        "DetailType": "GuardDuty Finding",
        "Detail": json.dumps({"severity": 8.9, "title": "HIGH ROOT LOGIN FAILED", "test_id": "ROOT LOGIN"}),
        "Resources": ["arn:aws:iam::111111111111:root"],
    }
    entry = stage.client("events", member, CENTRAL_REGION).put_events(Entries=[forged])["Entries"][0]
    assert "EventId" in entry, entry
    # WHEN the deployed function (run here with its role and environment) handles the buffer queue
    endpoint = stage.endpoint
    base = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=CENTRAL_REGION
    )
    admin_role = f"arn:aws:iam::{stage.layout.central_account}:role/OrganizationAccountAccessRole"
    central = role_session(base, endpoint, admin_role, CENTRAL_REGION)
    with environment({"AWS_ENDPOINT_URL": endpoint}):
        deployed = read_deployed_function(
            central, endpoint, stage.central_outputs()["FunctionName"], CENTRAL_REGION
        )
        function = LocalFunction(
            deployed, role_session(central, endpoint, deployed.role_arn, CENTRAL_REGION), endpoint
        )
        function.event_source().drain(30)
    # THEN Panther shows the fixed summary at severity 1, whatever the sender wrote
    (event,) = [e for e in panther.events() if e.get("event_id") == entry["EventId"]]
    assert event["summary"] == "Events2Panther test event"
    assert event["severity"] == 1
    assert "root" not in event["node"]
    assert "ROOT LOGIN" not in json.dumps(event).upper()


def test_a_function_whose_code_changed_outside_e2p_fails_the_deploy(
    secured: tuple[Stage, dict[str, Any]],
) -> None:
    stage, _ = secured
    forget("security_deploy")  # this test changes the deployment
    function = stage.central_outputs()["FunctionName"]
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("handler/app.py", "def lambda_handler(event, context):\n    return {}\n")
    stage.central("lambda").update_function_code(FunctionName=function, ZipFile=other_zip.getvalue())
    code, data = stage.cli_json("deploy", "--yes")
    assert code == 1
    (row,) = results_by_step(data)["function code"]
    assert row["outcome"] == "failed"
    assert function in row["detail"] and "not the zip built here" in row["detail"]


def test_another_operator_can_tear_the_code_bucket_down(stage: Stage, tmp_path: Path) -> None:
    from e2p.aws.code_bucket import empty_and_delete, ensure_bucket, upload

    # GIVEN the code bucket as a deploy through the central account's access role leaves it
    central = stage.layout.central_account
    bucket = default_bucket_name(central, CENTRAL_REGION)
    deployer_arn = f"arn:aws:iam::{central}:role/OrganizationAccountAccessRole"
    deployer = role_client(stage, "s3", deployer_arn)
    caller = role_client(stage, "sts", deployer_arn).get_caller_identity()["Arn"]
    ensure_bucket(deployer, bucket, CENTRAL_REGION, central, caller)
    zip_file = tmp_path / "code.zip"
    zip_file.write_bytes(b"PK code")
    upload(deployer, bucket, "lambda/code.zip", zip_file, central)
    # WHEN another role of the central account, one the bucket policy keeps from deleting objects, tears down
    s3 = role_client(stage, "s3", f"arn:aws:iam::{central}:role/SecurityAdmin")
    keys = [{"Key": k["Key"]} for k in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    refused = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys}).get("Errors", [])
    assert {error["Code"] for error in refused} == {"AccessDenied"}
    # THEN lifting the policy first (as teardown does) lets the bucket go
    assert empty_and_delete(s3, bucket, central) == 1
