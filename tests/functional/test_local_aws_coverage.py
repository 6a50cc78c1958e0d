"""Coverage on the local AWS: Account Management's region opt-in (which moto lacks: faithful server and
plain-moto companion), the schedule driver playing EventBridge Scheduler, and the watchdog task raising
and clearing each of its alerts against real AWS APIs (Organizations, StackSets, DynamoDB, SQS, the bus).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2p.local.aws import LocalAws
from e2p.local.function_host import environment
from e2p.local.schedules import ScheduleDriver
from handler import constants as env
from handler.coverage.heartbeat import DynamoDBCoverageTable, Heartbeat
from handler.coverage.names import HEARTBEAT_DETAIL_TYPE, HEARTBEAT_SOURCE
from handler.scheduled import app

pytestmark = pytest.mark.functional

HOME = "eu-west-1"
OTHER = "us-east-1"
_ids = itertools.count(1)
_CONFIG = Config(retries={"max_attempts": 1})
MINUTE = 60


def account_id(prefix: int) -> str:
    return f"{prefix:03d}{next(_ids):09d}"


class Aws:
    def __init__(self, server: LocalAws) -> None:
        self.server = server
        self.credentials: dict[str, dict[str, str]] = {}

    def keys(self, account: str) -> dict[str, str]:
        if account not in self.credentials:
            sts = boto3.client(
                "sts", endpoint_url=self.server.endpoint_url, region_name=HOME,
                aws_access_key_id="testing", aws_secret_access_key="testing",
            )  # fmt: skip
            creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/local", RoleSessionName="local")
            self.credentials[account] = creds["Credentials"]
        c = self.credentials[account]
        return {
            "aws_access_key_id": c["AccessKeyId"],
            "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"],
        }

    def client(self, service: str, account: str, region: str = HOME) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.server.endpoint_url,
            region_name=region,
            config=_CONFIG,
            **self.keys(account),
        )


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    with LocalAws() as server:
        yield Aws(server)


@pytest.fixture(scope="module")
def moto_aws() -> Iterator[Aws]:
    with LocalAws(fidelity=False) as server:
        yield Aws(server)


def new_org(aws: Aws, *, account_trusted_access: bool = True) -> tuple[str, str, str, str]:
    """(management, ou, member a, member b) of a fresh organisation."""
    management = account_id(730)
    orgs = aws.client("organizations", management)
    orgs.create_organization(FeatureSet="ALL")
    orgs.enable_aws_service_access(ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")
    if account_trusted_access:
        orgs.enable_aws_service_access(ServicePrincipal="account.amazonaws.com")
    root = orgs.list_roots()["Roots"][0]["Id"]
    ou = orgs.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    members = []
    for name in ("app-a", "app-b"):
        status = orgs.create_account(AccountName=f"{name}-{next(_ids)}", Email=f"{name}@example.com")
        member = status["CreateAccountStatus"]["AccountId"]
        orgs.move_account(AccountId=member, SourceParentId=root, DestinationParentId=ou)
        members.append(member)
    return management, ou, members[0], members[1]


# --- Account Management: Region opt-in -------------------------------------------------------------


def test_the_management_account_lists_a_members_regions_with_their_opt_in_status(aws: Aws) -> None:
    management, _, member, _ = new_org(aws)
    account = aws.client("account", management)
    account.enable_region(AccountId=member, RegionName="ap-east-1")
    enabled = account.list_regions(AccountId=member, RegionOptStatusContains=["ENABLED"])["Regions"]
    assert enabled == [{"RegionName": "ap-east-1", "RegionOptStatus": "ENABLED"}]
    statuses = {
        r["RegionName"]: r["RegionOptStatus"]
        for page in account.get_paginator("list_regions").paginate(AccountId=member)
        for r in page["Regions"]
    }
    assert statuses["eu-west-1"] == "ENABLED_BY_DEFAULT"
    assert statuses["me-south-1"] == "DISABLED"
    # The management account reads its own regions without AccountId; naming itself is refused.
    assert all(r["RegionOptStatus"] != "ENABLED" for r in account.list_regions()["Regions"])
    with pytest.raises(ClientError, match="ValidationException"):
        account.list_regions(AccountId=management)
    with pytest.raises(ClientError, match="ValidationException"):
        account.enable_region(AccountId=member, RegionName="eu-west-1")  # enabled by default


def test_another_accounts_regions_need_the_management_account_and_trusted_access(aws: Aws) -> None:
    management, _, member, other = new_org(aws, account_trusted_access=False)
    with pytest.raises(ClientError, match="AccessDenied"):
        aws.client("account", management).list_regions(AccountId=member)
    aws.client("organizations", management).enable_aws_service_access(
        ServicePrincipal="account.amazonaws.com"
    )
    assert aws.client("account", management).list_regions(AccountId=member)["Regions"]
    with pytest.raises(ClientError, match="AccessDenied"):
        aws.client("account", other).list_regions(AccountId=member)  # a member is no administrator


def test_plain_moto_has_no_region_opt_in_api(moto_aws: Aws) -> None:
    # The gap the fidelity layer fills: plain moto 5.2.5 does not route ListRegions at all.
    with pytest.raises(ClientError, match="404"):
        moto_aws.client("account", account_id(731)).list_regions()


def test_ec2_describe_regions_agrees_with_the_accounts_opt_in(aws: Aws) -> None:
    management, _, member, _ = new_org(aws)
    aws.client("account", management).enable_region(AccountId=member, RegionName="ap-east-1")
    ec2 = aws.client("ec2", member)
    listed = {r["RegionName"]: r["OptInStatus"] for r in ec2.describe_regions()["Regions"]}
    assert listed["ap-east-1"] == "opted-in"
    assert "me-south-1" not in listed  # without AllRegions only the account's enabled regions
    everything = {r["RegionName"]: r["OptInStatus"] for r in ec2.describe_regions(AllRegions=True)["Regions"]}
    assert everything["me-south-1"] == "not-opted-in"


def test_plain_moto_lists_disabled_regions_and_never_opted_in(moto_aws: Aws) -> None:
    listed = {
        r["RegionName"]: r["OptInStatus"]
        for r in moto_aws.client("ec2", account_id(734)).describe_regions()["Regions"]
    }
    assert listed["me-south-1"] == "not-opted-in"


# --- the schedule driver ---------------------------------------------------------------------------


def heartbeat_role(aws: Aws, account: str, *, trusted: str = "scheduler.amazonaws.com") -> str:
    iam = aws.client("iam", account)
    name = f"heartbeat-{next(_ids)}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": trusted},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            }
        ],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    bus = f"arn:aws:events:{HOME}:{account}:event-bus/default"
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="put", PolicyDocument=json.dumps(allow))
    return str(arn)


def capture_queue(aws: Aws, account: str, bus: str, pattern: dict[str, Any]) -> str:
    sqs = aws.client("sqs", account)
    url = sqs.create_queue(QueueName=f"capture-{next(_ids)}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    events = aws.client("events", account)
    name = f"capture-{next(_ids)}"
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return str(url)


def drain(aws: Aws, account: str, url: str) -> list[dict[str, Any]]:
    sqs = aws.client("sqs", account)
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_the_driver_plays_scheduler_through_the_default_bus_and_checks_the_role(aws: Aws) -> None:
    account = account_id(732)
    url = capture_queue(aws, account, "default", {"source": [HEARTBEAT_SOURCE]})
    scheduler = aws.client("scheduler", account)
    default_bus = f"arn:aws:events:{HOME}:{account}:event-bus/default"
    for name, role in (
        ("good", heartbeat_role(aws, account)),
        ("bad", heartbeat_role(aws, account, trusted="events.amazonaws.com")),
    ):
        scheduler.create_schedule(
            Name=f"{name}-{next(_ids)}",
            ScheduleExpression="rate(15 minutes)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": default_bus,
                "RoleArn": role,
                "Input": json.dumps({"interval_minutes": 15}),
                "EventBridgeParameters": {"Source": HEARTBEAT_SOURCE, "DetailType": HEARTBEAT_DETAIL_TYPE},
            },
        )
    driver = ScheduleDriver(start=1_800_000_000)
    first = driver.advance(15)
    assert first.failed["role does not trust scheduler.amazonaws.com"] >= 1
    mine = [e for e in drain(aws, account, url) if e["account"] == account]
    assert len(mine) == 1  # the schedule whose role Scheduler could not assume put nothing
    (event,) = mine
    assert (event["source"], event["detail-type"], event["region"]) == (
        HEARTBEAT_SOURCE,
        HEARTBEAT_DETAIL_TYPE,
        HOME,
    )
    assert event["detail"] == {"interval_minutes": 15}
    assert event["time"] == "2027-01-15T08:15:00Z"  # the driver's clock, not the wall clock
    driver.advance(5)  # within the 15-minute period: nothing due
    assert [e for e in drain(aws, account, url) if e["account"] == account] == []
    driver.advance(10)
    assert len([e for e in drain(aws, account, url) if e["account"] == account]) == 1


# --- the watchdog: every alert and its clear -------------------------------------------------------


TINY_TEMPLATE = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})


def watchdog_world(aws: Aws) -> dict[str, Any]:
    management, ou, a, b = new_org(aws)
    cfn = aws.client("cloudformation", management)
    stackset = f"members-{next(_ids)}"
    cfn.create_stack_set(
        StackSetName=stackset,
        TemplateBody=TINY_TEMPLATE,
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": False},
    )
    cfn.create_stack_instances(
        StackSetName=stackset, DeploymentTargets={"OrganizationalUnitIds": [ou]}, Regions=[HOME]
    )
    cfn.create_stack_instances(
        StackSetName=stackset,
        DeploymentTargets={
            "OrganizationalUnitIds": [ou],
            "Accounts": [a],
            "AccountFilterType": "INTERSECTION",
        },
        Regions=[OTHER],
    )
    central = account_id(733)
    table = f"coverage-{next(_ids)}"
    aws.client("dynamodb", central).create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    bus = aws.client("events", central).create_event_bus(Name=f"central-{next(_ids)}")["EventBusArn"]
    alerts = capture_queue(aws, central, bus.rsplit("/", 1)[-1], {"source": ["events2panther.watchdog"]})
    dlq = aws.client("sqs", central).create_queue(QueueName=f"dlq-{next(_ids)}")["QueueUrl"]
    variables = {
        env.COVERAGE_TABLE: table,
        env.EVENT_BUS_ARN: bus,
        env.ORG_LOOKUP_ROLE_ARN: f"arn:aws:iam::{management}:role/events2panther-org-lookup",
        env.COVERAGE_UNITS: ou,
        env.COVERAGE_REGIONS: f"{HOME},{OTHER}",
        env.MANAGEMENT_ACCOUNT_ID: management,
        env.MANAGEMENT_REGIONS: HOME,
        env.STACKSET_NAME: stackset,
        env.HEARTBEAT_MINUTES: "15",
        env.MISSED_HEARTBEATS: "3",
        env.WATCHED_QUEUE_URLS: dlq,
        env.READ_ENABLED_REGIONS: "true",
    }
    return {
        "management": management, "ou": ou, "a": a, "b": b, "central": central, "table": table,
        "alerts": alerts, "dlq": dlq, "stackset": stackset, "variables": variables,
    }  # fmt: skip


def run_watchdog(aws: Aws, world: dict[str, Any], now: int) -> dict[str, Any]:
    keys = aws.keys(world["central"])
    credentials = {
        "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": keys["aws_session_token"],
        "AWS_DEFAULT_REGION": HOME,
        "AWS_REGION": HOME,
        "AWS_ENDPOINT_URL": aws.server.endpoint_url,
    }
    with environment({**world["variables"], **credentials}):
        return app.lambda_handler({"task": "watchdog", "now": now}, None)


def beat(aws: Aws, world: dict[str, Any], at: int, *pairs: tuple[str, str]) -> None:
    # What the forwarder's heartbeat step writes, with its own code.
    table = DynamoDBCoverageTable(aws.client("dynamodb", world["central"]), world["table"])
    for account, region in pairs:
        table.record(Heartbeat(account, region, at, 15))


def changes(aws: Aws, world: dict[str, Any]) -> Counter[tuple[str, str, str, str]]:
    return Counter(
        (
            e["detail"]["kind"],
            e["detail"]["state"],
            e["detail"].get("account_id", ""),
            e["detail"].get("region") or e["detail"]["queue"],
        )
        for e in drain(aws, world["central"], world["alerts"])
    )


def test_the_watchdog_raises_each_alert_and_clears_it_once(aws: Aws) -> None:
    world = watchdog_world(aws)
    a, b, management, dlq_name = world["a"], world["b"], world["management"], world["dlq"].rsplit("/", 1)[-1]
    aws.client("account", management).enable_region(AccountId=a, RegionName="ap-east-1")
    aws.client("sqs", world["central"]).send_message(QueueUrl=world["dlq"], MessageBody="{}")
    t0 = 1_800_000_000

    # GIVEN a first run: nothing heard yet, but every pair is only just expected
    summary = run_watchdog(aws, world, t0)
    assert summary["expected_pairs"] == 5  # 2 members x 2 regions + the management account x 1
    assert changes(aws, world) == Counter(
        {
            ("uncovered", "ALARM", b, OTHER): 1,  # no stack instance
            ("region_not_forwarded", "ALARM", a, "ap-east-1"): 1,
            ("dead_letters", "ALARM", "", dlq_name): 1,
        }
    )

    # WHEN every pair but one beats, and the watchdog looks 60 minutes after the start
    beat(aws, world, t0 + 50 * MINUTE, (a, HOME), (b, HOME), (management, HOME))
    run_watchdog(aws, world, t0 + 60 * MINUTE)
    # THEN the silent pair is reported (more than 3 x 15 minutes), the others still hold
    assert changes(aws, world) == Counter(
        {
            ("silent", "ALARM", a, OTHER): 1,
            ("uncovered", "ALARM", b, OTHER): 1,
            ("region_not_forwarded", "ALARM", a, "ap-east-1"): 1,
            ("dead_letters", "ALARM", "", dlq_name): 1,
        }
    )

    # WHEN a run that does not read regions (not on the hour) comes, the region alert still holds
    beat(aws, world, t0 + 70 * MINUTE, (a, HOME), (b, HOME), (management, HOME))
    run_watchdog(aws, world, t0 + 75 * MINUTE)
    assert changes(aws, world)[("region_not_forwarded", "ALARM", a, "ap-east-1")] == 1

    # WHEN everything is repaired: the instance exists, the DLQ is empty, the region disabled again,
    # and every pair beats
    aws.client("cloudformation", management).create_stack_instances(
        StackSetName=world["stackset"],
        DeploymentTargets={
            "OrganizationalUnitIds": [world["ou"]],
            "Accounts": [b],
            "AccountFilterType": "INTERSECTION",
        },
        Regions=[OTHER],
    )
    drain(aws, world["central"], world["dlq"])
    aws.client("account", management).disable_region(AccountId=a, RegionName="ap-east-1")
    beat(aws, world, t0 + 115 * MINUTE, (a, HOME), (a, OTHER), (b, HOME), (b, OTHER), (management, HOME))
    run_watchdog(aws, world, t0 + 120 * MINUTE)  # on the hour: opted-in regions are read again
    # THEN each open alert gets exactly one clear, with the pair it was raised for
    assert changes(aws, world) == Counter(
        {
            ("silent", "OK", a, OTHER): 1,
            ("uncovered", "OK", b, OTHER): 1,
            ("region_not_forwarded", "OK", a, "ap-east-1"): 1,
            ("dead_letters", "OK", "", dlq_name): 1,
        }
    )
    run_watchdog(aws, world, t0 + 125 * MINUTE)
    assert changes(aws, world) == Counter()  # cleared once, not on every run


# --- AWS::Lambda::Permission (the schedule rules' permissions to invoke the scheduled function) ----

PERMISSION_TEMPLATE = json.dumps(
    {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                },
            },
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": "def handler(event, context):\n    return event\n"},
                },
            },
            "Permission": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "FunctionName": {"Ref": "Function"},
                    "Action": "lambda:InvokeFunction",
                    "Principal": "events.amazonaws.com",
                },
            },
        }
    }
)


def permission_resource(aws: Aws, account: str) -> tuple[str, str]:
    cfn = aws.client("cloudformation", account)
    name = f"permission-{next(_ids)}"
    cfn.create_stack(StackName=name, TemplateBody=PERMISSION_TEMPLATE, Capabilities=["CAPABILITY_IAM"])
    resources = {
        r["LogicalResourceId"]: r for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    }
    return resources["Permission"].get("PhysicalResourceId", ""), resources["Function"]["PhysicalResourceId"]


def test_a_lambda_permission_from_cloudformation_has_its_id_and_its_statement(aws: Aws) -> None:
    account = account_id(735)
    permission, function = permission_resource(aws, account)
    assert permission  # CloudFormation lists what it created with its physical id
    policy = json.loads(aws.client("lambda", account).get_policy(FunctionName=function)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == [permission]


def test_plain_moto_creates_a_lambda_permission_without_a_physical_id(moto_aws: Aws) -> None:
    permission, _ = permission_resource(moto_aws, account_id(736))
    assert permission == ""
