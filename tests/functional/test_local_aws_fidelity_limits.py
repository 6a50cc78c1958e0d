"""The local AWS refuses what AWS refuses where a real organisation would hit it on day one (issue 9).

Same pattern as test_local_aws_fidelity.py (whose builders this module reuses): each rule runs on
the faithful server, and a companion runs the same steps on plain moto to show the gap is still
there. Each rule is listed, with its AWS documentation page, in docs/aws-behaviour.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError
from fake_aws import fake_credentials
from test_local_aws_fidelity import (
    HOME,
    OTHER,
    Aws,
    _managements,
    account_id,
    bodies,
    central_bus,
    create_stack,
    echo_function,
    forwarder_role,
    organization,
    put,
    queue,
    receive,
    rule_to,
    unique,
)

from e2p.local.aws import LocalAws

pytestmark = [
    pytest.mark.functional,
    pytest.mark.filterwarnings("ignore:Tried to parse .* not supported by moto:UserWarning"),
]

FORWARDER_PREFIX = "events2panther-forwarder"


@pytest.fixture(scope="module", autouse=True)
def _fake_credentials() -> Iterator[None]:
    with fake_credentials(HOME):
        yield


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    with LocalAws() as server:
        yield Aws(server)


@pytest.fixture(scope="module")
def moto_aws() -> Iterator[Aws]:
    with LocalAws(fidelity=False) as server:
        yield Aws(server)


def fresh_account() -> str:
    return account_id(next(_managements))


# --- EventBridge -----------------------------------------------------------------------------------


def key_for_events(server: Aws, account: str, condition: dict[str, Any] | None) -> str:
    """A customer managed key whose policy lets the account administer it and EventBridge use it."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            statement,
        ],
    }
    return str(server.client("kms", account).create_key(Policy=json.dumps(document))["KeyMetadata"]["Arn"])


@pytest.mark.parametrize(
    ("condition", "delivered"),
    [
        ({"StringEquals": {"aws:SourceAccount": "ACCOUNT"}}, False),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:events:*:ACCOUNT:rule/*"}}, False),
        (None, True),
    ],
)
def test_eventbridge_through_sqs_meets_no_source_condition_in_a_key_policy(
    aws: Aws, condition: dict[str, Any] | None, delivered: bool
) -> None:
    # GIVEN a queue under a customer managed key whose EventBridge statement may carry a condition
    account, source = fresh_account(), unique("app.")
    if condition is not None:
        condition = json.loads(json.dumps(condition).replace("ACCOUNT", account))
    key = key_for_events(aws, account, condition)
    url, arn = queue(aws, account, HOME, unique("encrypted"))
    aws.client("sqs", account).set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": key})
    dlq_url, dlq_arn = queue(aws, account, HOME, unique("dlq"))
    rule_to(aws, account, HOME, source, {"Arn": arn, "DeadLetterConfig": {"Arn": dlq_arn}})
    # WHEN a matching event is put
    put(aws, account, HOME, source)
    # THEN only the unconditioned statement lets EventBridge deliver; otherwise it is dead-lettered
    assert (len(bodies(aws, account, HOME, url)) == 1) is delivered
    if not delivered:
        (dead,) = receive(aws, account, HOME, dlq_url)
        assert "KMS key" in dead["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"]


def test_plain_moto_ignores_the_key_policy_of_a_target_queue(moto_aws: Aws) -> None:
    account, source = fresh_account(), unique("app.")
    key = key_for_events(moto_aws, account, {"StringEquals": {"aws:SourceAccount": account}})
    url, arn = queue(moto_aws, account, HOME, unique("encrypted"))
    moto_aws.client("sqs", account).set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": key})
    rule_to(moto_aws, account, HOME, source, {"Arn": arn})
    put(moto_aws, account, HOME, source)
    assert len(bodies(moto_aws, account, HOME, url)) == 1


def test_retry_policy_on_an_event_bus_target_is_refused(aws: Aws, moto_aws: Aws) -> None:
    for server, refused in ((aws, True), (moto_aws, False)):
        account = fresh_account()
        bus_arn = f"arn:aws:events:{OTHER}:{fresh_account()}:event-bus/central"
        target: dict[str, Any] = {
            "Arn": bus_arn,
            "RoleArn": f"arn:aws:iam::{account}:role/fwd",
            "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
        }
        if refused:
            with pytest.raises(ClientError, match="RetryPolicy is not supported for event bus targets"):
                rule_to(server, account, HOME, unique("app."), target)
        else:
            rule_to(server, account, HOME, unique("app."), target)
    # An SQS target keeps its RetryPolicy.
    account = fresh_account()
    _, queue_arn = queue(aws, account, HOME, unique("q"))
    rule_to(
        aws, account, HOME, unique("app."), {"Arn": queue_arn, "RetryPolicy": {"MaximumRetryAttempts": 3}}
    )


def test_bus_policy_can_require_the_forwarder_role_name(aws: Aws) -> None:
    # GIVEN a central bus admitting the organisation's roles named events2panther-forwarder-* only
    org = organization(aws)
    condition = {
        "StringEquals": {"aws:PrincipalOrgID": org.org_id},
        "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/{FORWARDER_PREFIX}-*"},
    }
    bus_arn, _, central_url = central_bus(aws, org.central, HOME, condition)
    iam = aws.client("iam", org.member_a)
    results = {}
    for label, name in (
        ("forwarder", f"{FORWARDER_PREFIX}-{unique('r')}"),
        ("other", unique("someone-else-")),
    ):
        role = forwarder_role(aws, org.member_a, bus_arn)
        # Same trust and permissions under the name being tested.
        document = iam.get_role(RoleName=role.rsplit("/", 1)[1])["Role"]["AssumeRolePolicyDocument"]
        named = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=name,
            PolicyName="put",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus_arn}],
                }
            ),
        )
        dlq_url, dlq_arn = queue(aws, org.member_a, OTHER, unique("dlq"))
        source = unique("app.")
        rule_to(
            aws,
            org.member_a,
            OTHER,
            source,
            {"Arn": bus_arn, "RoleArn": named, "DeadLetterConfig": {"Arn": dlq_arn}},
        )
        put(aws, org.member_a, OTHER, source)
        dead = receive(aws, org.member_a, OTHER, dlq_url)
        results[label] = (
            len(bodies(aws, org.central, HOME, central_url)),
            [m["MessageAttributes"]["ERROR_CODE"]["StringValue"] for m in dead],
        )
    # THEN the forwarder's event arrives, the other role's is refused by the bus policy
    assert results == {"forwarder": (1, []), "other": (0, ["NO_PERMISSIONS"])}
    # AND a principal of the central account itself needs no bus policy (the watchdog's path)
    assert (
        put(aws, org.central, HOME, unique("events2panther."), EventBusName=bus_arn)["FailedEntryCount"] == 0
    )


# --- Lambda ----------------------------------------------------------------------------------------


def test_sqs_batches_over_ten_need_a_batching_window(aws: Aws, moto_aws: Aws) -> None:
    for server, faithful in ((aws, True), (moto_aws, False)):
        account = fresh_account()
        name = echo_function(server, account)
        _, arn = queue(server, account, HOME, unique("buffer"))
        lam = server.client("lambda", account)
        if faithful:
            with pytest.raises(ClientError, match=r"InvalidParameterValue.*batch window"):
                lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=100)
            mapping = lam.create_event_source_mapping(
                EventSourceArn=arn, FunctionName=name, BatchSize=100, MaximumBatchingWindowInSeconds=1
            )
            with pytest.raises(ClientError, match="batch window"):
                lam.update_event_source_mapping(UUID=mapping["UUID"], MaximumBatchingWindowInSeconds=0)
            lam.update_event_source_mapping(
                UUID=mapping["UUID"], BatchSize=10, MaximumBatchingWindowInSeconds=0
            )
        else:
            # Plain moto takes a batch of 100 with no window.
            lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=100)


def reserving_stack(reserved: int) -> dict[str, Any]:
    return {
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
                    "ReservedConcurrentExecutions": reserved,
                },
            },
        }
    }


@pytest.mark.parametrize(
    ("quota", "reserved", "created"), [(10, 2, False), (1000, 900, True), (1000, 901, False)]
)
def test_a_reservation_must_leave_the_unreserved_minimum(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, quota: int, reserved: int, created: bool
) -> None:
    # GIVEN an account whose concurrency quota is `quota` (10 in many new accounts)
    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", str(quota))
    account = fresh_account()
    # THEN GetAccountSettings reports it
    limit = aws.client("lambda", account).get_account_settings()["AccountLimit"]
    assert limit["ConcurrentExecutions"] == quota
    # WHEN CloudFormation creates a function reserving `reserved`
    stack = create_stack(aws, account, reserving_stack(reserved), Capabilities=["CAPABILITY_IAM"])
    # THEN the stack fails unless min(100, quota) executions stay unreserved
    assert (stack["StackStatus"] == "CREATE_COMPLETE") is created, stack.get("StackStatusReason")
    if not created:
        events = aws.client("cloudformation", account).describe_stack_events(StackName=stack["StackName"])
        reasons = " ".join(e.get("ResourceStatusReason", "") for e in events["StackEvents"])
        assert "UnreservedConcurrentExecution below its minimum value" in reasons


def test_put_function_concurrency_follows_the_same_rule(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", "10")
    account = fresh_account()
    name = echo_function(aws, account)
    with pytest.raises(ClientError, match=r"minimum value of \[10\]"):
        aws.client("lambda", account).put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=1
        )


def test_plain_moto_reserves_through_cloudformation_beyond_the_quota(
    moto_aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_LAMBDA_CONCURRENCY_QUOTA", "10")
    account = fresh_account()
    stack = create_stack(moto_aws, account, reserving_stack(2), Capabilities=["CAPABILITY_IAM"])
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    # ... and has no GetAccountSettings at all.
    with pytest.raises((ClientError, ResponseParserError)):
        moto_aws.client("lambda", account).get_account_settings()


# --- StackSets: trusted access ------------------------------------------------------------------------


def bare_organization(server: Aws) -> tuple[str, str]:
    """An organisation that never activated trusted access for StackSets: (management, root)."""
    management = fresh_account()
    orgs = server.client("organizations", management)
    orgs.create_organization(FeatureSet="ALL")
    return management, str(orgs.list_roots()["Roots"][0]["Id"])


def create_service_managed(server: Aws, management: str) -> None:
    server.client("cloudformation", management).create_stack_set(
        StackSetName=unique("member-"),
        TemplateBody=json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}),
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )


def test_a_service_managed_stack_set_needs_trusted_access(aws: Aws) -> None:
    management, _ = bare_organization(aws)
    cfn = aws.client("cloudformation", management)
    assert cfn.describe_organizations_access()["Status"] == "DISABLED"
    with pytest.raises(ClientError, match="enable organizations access"):
        create_service_managed(aws, management)
    cfn.activate_organizations_access()
    assert cfn.describe_organizations_access()["Status"] == "ENABLED"
    create_service_managed(aws, management)


def test_plain_moto_creates_service_managed_stack_sets_without_trusted_access(moto_aws: Aws) -> None:
    management, _ = bare_organization(moto_aws)
    create_service_managed(moto_aws, management)
    with pytest.raises((ClientError, ResponseParserError, NotImplementedError)):
        moto_aws.client("cloudformation", management).describe_organizations_access()


def test_a_role_trusting_one_rule_cannot_be_passed_by_another(aws: Aws, moto_aws: Aws) -> None:
    # GIVEN a forwarder role whose trust admits EventBridge only for the rule named "fwd" (aws:SourceArn)
    for server, enforced in ((aws, True), (moto_aws, False)):
        org = organization(server) if enforced else None
        sender = org.member_a if org else fresh_account()
        central = org.central if org else fresh_account()
        condition = {"StringEquals": {"aws:PrincipalOrgID": org.org_id}} if org else {"StringEquals": {}}
        bus_arn, _, central_url = central_bus(server, central, HOME, condition)
        iam = server.client("iam", sender)
        name = f"{FORWARDER_PREFIX}-{unique('t')}"
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"ArnEquals": {"aws:SourceArn": f"arn:aws:events:{HOME}:{sender}:rule/fwd"}},
                }
            ],
        }
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=name,
            PolicyName="put",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus_arn}],
                }
            ),
        )
        dlq_url, dlq_arn = queue(server, sender, HOME, unique("dlq"))
        source = unique("app.")
        # WHEN another rule of the same account uses the role
        rule_to(
            server,
            sender,
            HOME,
            source,
            {"Arn": bus_arn, "RoleArn": role, "DeadLetterConfig": {"Arn": dlq_arn}},
        )
        put(server, sender, HOME, source)
        # THEN AWS refuses to let EventBridge assume it for that rule; plain moto delivers anyway
        delivered = len(bodies(server, central, HOME, central_url))
        if enforced:
            assert delivered == 0
            (dead,) = receive(server, sender, HOME, dlq_url)
            assert dead["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "FAILED_TO_ASSUME_ROLE"
        else:
            assert delivered == 1


# --- CloudFormation: conditional resources ---------------------------------------------------------

CONDITIONAL_TEMPLATE: dict[str, Any] = {
    "Parameters": {"WithTopic": {"Type": "String", "Default": "false", "AllowedValues": ["true", "false"]}},
    "Conditions": {"TopicOn": {"Fn::Equals": [{"Ref": "WithTopic"}, "true"]}},
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Topic": {"Type": "AWS::SNS::Topic", "Condition": "TopicOn"},
    },
}


def listed_resources(server: Aws, account: str, stack: dict[str, Any]) -> list[dict[str, Any]]:
    cfn = server.client("cloudformation", account)
    summaries: list[dict[str, Any]] = cfn.list_stack_resources(StackName=stack["StackName"])[
        "StackResourceSummaries"
    ]
    return summaries


def test_a_resource_whose_condition_is_false_is_not_listed(aws: Aws) -> None:
    # CloudFormation creates no resource whose Condition is false, and lists none.
    account = fresh_account()
    stack = create_stack(aws, account, CONDITIONAL_TEMPLATE)
    assert [r["LogicalResourceId"] for r in listed_resources(aws, account, stack)] == ["Queue"]


def test_plain_moto_lists_a_resource_whose_condition_is_false_as_an_empty_summary(moto_aws: Aws) -> None:
    account = fresh_account()
    stack = create_stack(moto_aws, account, CONDITIONAL_TEMPLATE)
    ids = sorted(r["LogicalResourceId"] for r in listed_resources(moto_aws, account, stack))
    assert ids == ["", "Queue"]
