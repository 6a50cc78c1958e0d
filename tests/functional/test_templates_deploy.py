"""The real templates deployed on moto: the central stack in one account and region, a member stack in
another account and region (accounts switched with sts.assume_role, as LOCAL-AWS.md describes).

Plain moto 5.2.5 cannot deploy either template as AWS would, and the templates are not bent to suit
it. The two gaps, each pinned by a strict xfail so that a fix is noticed:
- it skips AWS::SecretsManager::Secret, so the function policy's `!Ref TokenSecret` is null and
  moto's IAM refuses the policy (the whole central stack fails);
- it JSON-encodes a String EventPattern a second time, so a rule whose pattern comes from a
  parameter crashes rule creation (the member stack fails).
The "faithful" runs use the project's moto fidelity patches (e2p.local.fidelity), which fill these
gaps, and are skipped when that package is absent.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cfnlint.decode import decode_str
from moto import mock_aws

from handler import constants

pytestmark = [
    pytest.mark.functional,
    # moto announces every resource type it skips; the gaps are pinned by the xfails below.
    pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
CENTRAL_ACCOUNT = "123456789012"  # moto's default account
MEMBER_ACCOUNT = "210987654321"
MANAGEMENT_ACCOUNT = "111122223333"
CENTRAL_REGION = "eu-west-1"
MEMBER_REGION = "us-east-1"
CODE_BUCKET = "e2p-artifacts"
CODE_KEY = "events2panther/handler.zip"
CENTRAL_PARAMETERS = {
    "OrganizationId": "o-a1b2c3d4e5",
    "ManagementAccountId": MANAGEMENT_ACCOUNT,
    "PantherUrl": "https://acme.runpanther.net/api/event/create",
    "CodeBucket": CODE_BUCKET,
    "CodeKey": CODE_KEY,
}
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": CENTRAL_REGION,
}
SECRET_GAP = "moto 5.2.5 skips AWS::SecretsManager::Secret; the policy naming it is refused"
PATTERN_GAP = "moto 5.2.5 JSON-encodes a String EventPattern again and crashes creating the rule"


def template_text(relative: str) -> str:
    return (ROOT / relative).read_text()


def default_pattern() -> dict[str, Any]:
    member, errors = decode_str(template_text("member/template.yaml"))
    assert not errors
    return json.loads(member["Parameters"]["EventPattern"]["Default"])


@contextlib.contextmanager
def fidelity(faithful: bool) -> Iterator[None]:
    """Run with the project's moto fidelity patches on (faithful) or off (plain)."""
    try:
        from e2p.local import fidelity as patches
        from e2p.local.fidelity import switch
    except ImportError:
        if faithful:
            pytest.skip("the moto fidelity patches (e2p.local.fidelity) are not in this tree")
        yield
        return
    if faithful:
        install = getattr(patches, "install_all", None)
        if install is None:
            pytest.skip("e2p.local.fidelity has no install_all()")
        install()
    # The patches are process-wide once installed: the switch keeps a plain run plain.
    with switch.mode(faithful):
        yield


@pytest.fixture(params=["plain", "faithful"])
def moto(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, os.devnull)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with fidelity(request.param == "faithful"), mock_aws():
        yield request.param


def expect_gap(request: pytest.FixtureRequest, mode: str, when: set[str], reason: str, raises: Any) -> None:
    if mode in when:
        request.applymarker(pytest.mark.xfail(strict=True, raises=raises, reason=reason))


def session_for(account: str, region: str) -> boto3.Session:
    """Credentials that moto maps to `account`."""
    if account == CENTRAL_ACCOUNT:
        return boto3.Session(region_name=region)
    credentials = boto3.client("sts", region_name=region).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/e2p-templates-test", RoleSessionName="templates-test"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def deploy(session: boto3.Session, name: str, body: str, parameters: dict[str, str]) -> dict[str, Any]:
    cloudformation = session.client("cloudformation")
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=body,
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        # The member template names its forwarder role (the central bus policy admits it by name).
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def upload_code(session: boto3.Session) -> str:
    """Put a code zip in a versioned bucket, as `e2p deploy` does; its version id (CodeObjectVersion)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("handler/app.py", "def lambda_handler(event, context):\n    return {}\n")
    s3 = session.client("s3")
    s3.create_bucket(Bucket=CODE_BUCKET, CreateBucketConfiguration={"LocationConstraint": CENTRAL_REGION})
    s3.put_bucket_versioning(Bucket=CODE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return str(s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=archive.getvalue())["VersionId"])


def deploy_central() -> tuple[boto3.Session, dict[str, str]]:
    session = session_for(CENTRAL_ACCOUNT, CENTRAL_REGION)
    version = upload_code(session)
    return session, deploy(
        session,
        "events2panther-central",
        template_text("central/template.yaml"),
        {**CENTRAL_PARAMETERS, "CodeObjectVersion": version},
    )


def queue_attributes(session: boto3.Session, url: str) -> dict[str, str]:
    return session.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def assert_central(session: boto3.Session, outputs: dict[str, str]) -> None:
    contract = set(decode_str(template_text("central/template.yaml"))[0]["Outputs"])
    assert set(outputs) == contract

    events = session.client("events")
    bus = events.describe_event_bus(Name="events2panther")
    assert (
        bus["Arn"]
        == outputs["EventBusArn"]
        == f"arn:aws:events:{CENTRAL_REGION}:{CENTRAL_ACCOUNT}:event-bus/events2panther"
    )
    # The archive adds a rule of its own, managed by EventBridge.
    (rule,) = [r for r in events.list_rules(EventBusName="events2panther")["Rules"] if "ManagedBy" not in r]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"], EventBusName="events2panther")["Targets"]
    rule_dlq = queue_attributes(session, outputs["RuleDeadLetterQueueUrl"])
    assert target["Arn"] == outputs["BufferQueueArn"]
    assert "RoleArn" not in target
    assert target["DeadLetterConfig"] == {"Arn": rule_dlq["QueueArn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    archive = events.describe_archive(ArchiveName=outputs["ArchiveArn"].rsplit("/", 1)[1])
    assert archive["EventSourceArn"] == outputs["EventBusArn"]

    buffer = queue_attributes(session, outputs["BufferQueueUrl"])
    assert buffer["QueueArn"] == outputs["BufferQueueArn"]
    assert int(buffer["VisibilityTimeout"]) == 6 * 60  # the default FunctionTimeout is 60 s
    redrive = json.loads(buffer["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == outputs["DeadLetterQueueArn"]
    assert int(redrive["maxReceiveCount"]) == 5
    # EventBridge writes to it: SQS-managed keys, which no key policy can make EventBridge fail on.
    assert buffer.get("SqsManagedSseEnabled") == "true"
    assert "KmsMasterKeyId" not in buffer

    function = session.client("lambda").get_function(FunctionName=outputs["FunctionName"])["Configuration"]
    assert function["Handler"] == "handler.app.lambda_handler"
    assert function["Role"] == outputs["FunctionRoleArn"]
    env = function["Environment"]["Variables"]
    assert env[constants.PANTHER_URL] == CENTRAL_PARAMETERS["PantherUrl"]
    assert env[constants.TOKEN_SECRET_ID] == outputs["TokenSecretArn"]
    assert env[constants.ALLOW_INSECURE_HTTP] == "false"
    assert env[constants.DEAD_LETTER_QUEUE_URL] == outputs["DeadLetterQueueUrl"]
    assert (
        env[constants.ORG_LOOKUP_ROLE_ARN]
        == f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/events2panther-org-lookup"
    )
    assert env[constants.ACCOUNT_TAG_KEYS] == ""
    assert env[constants.IDEMPOTENCY_TABLE] == outputs["IdempotencyTableName"]
    for name in (
        constants.POWERTOOLS_SERVICE_NAME,
        constants.POWERTOOLS_METRICS_NAMESPACE,
        constants.LOG_LEVEL,
    ):
        assert env[name]

    (mapping,) = session.client("lambda").list_event_source_mappings(FunctionName=outputs["FunctionName"])[
        "EventSourceMappings"
    ]
    assert mapping["EventSourceArn"] == outputs["BufferQueueArn"]
    assert mapping["BatchSize"] == 100
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}

    secret = session.client("secretsmanager").describe_secret(SecretId=outputs["TokenSecretArn"])
    assert secret["ARN"] == outputs["TokenSecretArn"]


def assert_member(
    session: boto3.Session, outputs: dict[str, str], bus_arn: str, *, heartbeat: bool = True
) -> None:
    expected = {"RuleArn", "ForwarderRoleArn", "DeadLetterQueueUrl", "DeadLetterQueueArn"}
    assert set(outputs) == expected | ({"HeartbeatScheduleArn"} if heartbeat else set())
    events = session.client("events")
    (rule,) = [
        r for r in events.list_rules(EventBusName="default")["Rules"] if r["Arn"] == outputs["RuleArn"]
    ]
    assert rule["State"] == "ENABLED"
    assert json.loads(rule["EventPattern"]) == default_pattern()
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == bus_arn
    assert target["RoleArn"] == outputs["ForwarderRoleArn"]
    assert target["DeadLetterConfig"] == {"Arn": outputs["DeadLetterQueueArn"]}
    # AWS documents RetryPolicy as not supported for event bus targets: EventBridge's default applies.
    assert "RetryPolicy" not in target
    assert rule["Name"] == "events2panther-forwarder"

    iam = session.client("iam")
    role_name = outputs["ForwarderRoleArn"].rsplit("/", 1)[1]
    assert role_name == f"events2panther-forwarder-{MEMBER_REGION}"
    (trust,) = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    if isinstance(document, str):
        # moto 5.2.5 keeps an inline policy created by CloudFormation as the repr of a dict.
        document = ast.literal_eval(document)
    assert document["Statement"] == [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus_arn}]

    dlq = queue_attributes(session, outputs["DeadLetterQueueUrl"])
    assert dlq["QueueArn"] == outputs["DeadLetterQueueArn"]
    assert dlq["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    assert outputs["DeadLetterQueueArn"].split(":")[3:5] == [MEMBER_REGION, MEMBER_ACCOUNT]


def central_bus_without_the_stack() -> str:
    """The central bus alone, for member tests that must not depend on the central stack's gap."""
    events = session_for(CENTRAL_ACCOUNT, CENTRAL_REGION).client("events")
    return str(events.create_event_bus(Name="events2panther")["EventBusArn"])


def test_member_stack_in_another_account_and_region(moto: str, request: pytest.FixtureRequest) -> None:
    expect_gap(request, moto, {"plain"}, PATTERN_GAP, AttributeError)
    bus_arn = central_bus_without_the_stack()
    session = session_for(MEMBER_ACCOUNT, MEMBER_REGION)
    outputs = deploy(
        session,
        "events2panther-member",
        template_text("member/template.yaml"),
        {"CentralEventBusArn": bus_arn},
    )
    assert_member(session, outputs, bus_arn)


def test_member_stack_with_its_default_pattern_inlined(moto: str) -> None:
    """Everything but the pattern parameter, on any moto: the template with the default pattern written
    into the rule as an object (the one change, made here and not in the template)."""
    template, errors = decode_str(template_text("member/template.yaml"))
    assert not errors
    (rule,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    assert rule["Properties"]["EventPattern"] == {"Ref": "EventPattern"}
    rule["Properties"]["EventPattern"] = default_pattern()
    bus_arn = central_bus_without_the_stack()
    session = session_for(MEMBER_ACCOUNT, MEMBER_REGION)
    # Plain moto 5.2.5 has no AWS::Scheduler::Schedule in CloudFormation: its run turns the heartbeat off.
    heartbeat = moto != "plain"
    parameters = {"CentralEventBusArn": bus_arn, **({} if heartbeat else {"HeartbeatMinutes": "0"})}
    outputs = deploy(session, "events2panther-member", json.dumps(template), parameters)
    assert_member(session, outputs, bus_arn, heartbeat=heartbeat)


def test_central_then_member_stack(moto: str, request: pytest.FixtureRequest) -> None:
    """The deploy order of the design: the member stack targets the central stack's bus output."""
    expect_gap(request, moto, {"plain"}, SECRET_GAP, ClientError)
    central_session, central = deploy_central()
    assert_central(central_session, central)
    session = session_for(MEMBER_ACCOUNT, MEMBER_REGION)
    outputs = deploy(
        session,
        "events2panther-member",
        template_text("member/template.yaml"),
        {"CentralEventBusArn": central["EventBusArn"]},
    )
    assert_member(session, outputs, central["EventBusArn"])
