"""The local AWS behaves like AWS where the product depends on it, and plain moto still does not.

Every test drives a real server through boto3 clients (endpoint_url + fake credentials). The
faithful server (`LocalAws()`) must show the AWS behaviour; where a gap is being filled, a
companion assertion runs the same steps against plain moto (`LocalAws(fidelity=False)`) and
checks the gap is still there, so a moto upgrade that changes behaviour gets noticed.
Both servers share moto's process-global state, so every test uses its own names and accounts.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import threading
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError
from fake_aws import fake_credentials

from e2p.local.aws import LocalAws, emit_aws_event

pytestmark = [
    pytest.mark.functional,
    # Plain moto announces each resource type it skips; the tests assert on that gap themselves.
    pytest.mark.filterwarnings("ignore:Tried to parse .* not supported by moto:UserWarning"),
]

HOME = "us-east-1"
OTHER = "eu-west-1"
_ids = itertools.count(1)
_CONFIG = Config(retries={"max_attempts": 1})


def unique(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


def account_id(n: int) -> str:
    return f"{n:012d}"


@pytest.fixture(scope="module", autouse=True)
def _fake_credentials() -> Iterator[None]:
    with fake_credentials(HOME):
        yield


@pytest.fixture(scope="module")
def faithful() -> Iterator[LocalAws]:
    with LocalAws() as server:
        yield server


@pytest.fixture(scope="module")
def plain() -> Iterator[LocalAws]:
    with LocalAws(fidelity=False) as server:
        yield server


class Aws:
    """boto3 clients for any account of one server (accounts reached with sts.assume_role)."""

    def __init__(self, server: LocalAws) -> None:
        self.server = server
        self._credentials: dict[str, dict[str, str]] = {}

    def client(self, service: str, account: str | None = None, region: str = HOME) -> Any:
        keys: dict[str, str] = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        if account is not None:
            if account not in self._credentials:
                sts = boto3.client("sts", endpoint_url=self.server.endpoint_url, region_name=HOME, **keys)
                creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/local", RoleSessionName="local")
                self._credentials[account] = creds["Credentials"]
            c = self._credentials[account]
            keys = {
                "aws_access_key_id": c["AccessKeyId"],
                "aws_secret_access_key": c["SecretAccessKey"],
                "aws_session_token": c["SessionToken"],
            }
        return boto3.client(
            service, endpoint_url=self.server.endpoint_url, region_name=region, config=_CONFIG, **keys
        )


@pytest.fixture(scope="module")
def aws(faithful: LocalAws) -> Aws:
    return Aws(faithful)


@pytest.fixture(scope="module")
def moto_aws(plain: LocalAws) -> Aws:
    return Aws(plain)


# --- small builders -------------------------------------------------------------------------------


def queue(aws: Aws, account: str, region: str, name: str, *, allow_events: bool = True) -> tuple[str, str]:
    sqs = aws.client("sqs", account, region)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    if allow_events:
        document = {
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
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(document)})
    return url, arn


def receive(aws: Aws, account: str, region: str, url: str) -> list[dict[str, Any]]:
    sqs = aws.client("sqs", account, region)
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
    ).get("Messages", [])
    return list(messages)


def bodies(aws: Aws, account: str, region: str, url: str) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in receive(aws, account, region, url)]


def rule_to(
    aws: Aws,
    account: str,
    region: str,
    source: str,
    target: dict[str, Any],
    *,
    bus: str = "default",
    state: str = "ENABLED",
    pattern: dict[str, Any] | None = None,
) -> str:
    events = aws.client("events", account, region)
    name = unique("rule")
    arn = events.put_rule(
        Name=name, EventBusName=bus, State=state, EventPattern=json.dumps(pattern or {"source": [source]})
    )["RuleArn"]
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "t", **target}])
    return str(arn)


def put(aws: Aws, account: str, region: str, source: str, **extra: Any) -> dict[str, Any]:
    entry = {"Source": source, "DetailType": "Sample", "Detail": json.dumps({"n": 1}), **extra}
    result: dict[str, Any] = aws.client("events", account, region).put_events(Entries=[entry])
    return result


def forwarder_role(
    aws: Aws,
    account: str,
    bus_arn: str,
    *,
    trusted: str = "events.amazonaws.com",
    action: str = "events:PutEvents",
) -> str:
    iam = aws.client("iam", account)
    name = unique("fwd")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": trusted}, "Action": "sts:AssumeRole"}],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": bus_arn}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="put", PolicyDocument=json.dumps(allow))
    return str(arn)


@dataclass
class Org:
    management: str
    org_id: str
    root: str
    ou_a: str  # root/ou_a
    ou_b: str  # root/ou_a/ou_b (nested)
    ou_c: str  # root/ou_c
    member_a: str  # in ou_a
    member_b: str  # in ou_b
    member_c: str  # in ou_c
    central: str  # in ou_c


_managements = itertools.count(700000000001)


def organization(aws: Aws) -> Org:
    """A fresh organisation with nested OUs, under its own management account."""
    management = account_id(next(_managements))
    orgs = aws.client("organizations", management)
    org_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    # Trusted access for StackSets, as an organisation using service-managed stack sets has it.
    orgs.enable_aws_service_access(ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")
    root = orgs.list_roots()["Roots"][0]["Id"]

    def ou(parent: str, name: str) -> str:
        return str(orgs.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"])

    def member(parent: str, name: str) -> str:
        status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        orgs.move_account(AccountId=status["AccountId"], SourceParentId=root, DestinationParentId=parent)
        return str(status["AccountId"])

    ou_a = ou(root, "a")
    ou_b = ou(ou_a, "b")
    ou_c = ou(root, "c")
    return Org(
        management,
        org_id,
        root,
        ou_a,
        ou_b,
        ou_c,
        member(ou_a, unique("ma")),
        member(ou_b, unique("mb")),
        member(ou_c, unique("mc")),
        member(ou_c, unique("ct")),
    )


def central_bus(aws: Aws, account: str, region: str, condition: dict[str, Any]) -> tuple[str, str, str]:
    """A custom bus whose policy admits `condition`, with a rule into a queue. (bus arn, name, queue url)"""
    events = aws.client("events", account, region)
    name = unique("central")
    arn = events.create_event_bus(Name=name)["EventBusArn"]
    statement = {
        "Sid": "org",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "events:PutEvents",
        "Resource": arn,
        "Condition": condition,
    }
    events.put_permission(
        EventBusName=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    url, queue_arn = queue(aws, account, region, unique("buffer"))
    rule_to(aws, account, region, "", {"Arn": queue_arn}, bus=name, pattern={"detail-type": ["Sample"]})
    return arn, name, url


@pytest.fixture(scope="module")
def org(aws: Aws) -> Org:
    return organization(aws)


@pytest.fixture(scope="module")
def moto_org(moto_aws: Aws) -> Org:
    return organization(moto_aws)


def org_condition(org: Org) -> dict[str, Any]:
    return {"StringEquals": {"aws:PrincipalOrgID": org.org_id}}


# --- EventBridge -----------------------------------------------------------------------------------


def forward(aws: Aws, org: Org, *, source: str, role: str | None = "ok", dlq: bool = True) -> dict[str, Any]:
    """member_a (OTHER region) default bus -> central bus (HOME) -> queue; returns handles."""
    bus_arn, _, central_url = central_bus(aws, org.central, HOME, org_condition(org))
    dlq_url, dlq_arn = queue(aws, org.member_a, OTHER, unique("dlq"))
    target: dict[str, Any] = {"Arn": bus_arn}
    if role == "ok":
        target["RoleArn"] = forwarder_role(aws, org.member_a, bus_arn)
    elif role is not None:
        target["RoleArn"] = role
    if dlq:
        target["DeadLetterConfig"] = {"Arn": dlq_arn}
    rule_arn = rule_to(aws, org.member_a, OTHER, source, target)
    return {"bus_arn": bus_arn, "central_url": central_url, "dlq_url": dlq_url, "rule_arn": rule_arn}


def test_forwarded_event_keeps_its_original_envelope(
    aws: Aws, org: Org, moto_aws: Aws, moto_org: Org
) -> None:
    # GIVEN a member rule in another region forwarding to the central bus of another account
    source = unique("app.")
    handles = forward(aws, org, source=source)
    # WHEN the member puts an event with resources and a time
    sent = put(aws, org.member_a, OTHER, source, Resources=["arn:aws:s3:::b"], Time=1_700_000_000)
    # THEN the central queue receives the member's envelope unchanged
    (received,) = bodies(aws, org.central, HOME, handles["central_url"])
    assert received["id"] == sent["Entries"][0]["EventId"]
    assert received["account"] == org.member_a
    assert received["region"] == OTHER
    assert received["resources"] == ["arn:aws:s3:::b"]
    assert received["time"] == "2023-11-14T22:13:20Z"
    assert received["source"] == source
    assert received["detail"] == {"n": 1}

    # Plain moto re-stamps the event in the central account (and drops `account`).
    moto_source = unique("app.")
    moto_handles = forward(moto_aws, moto_org, source=moto_source)
    moto_sent = put(moto_aws, moto_org.member_a, OTHER, moto_source, Resources=["arn:aws:s3:::b"])
    (moto_received,) = bodies(moto_aws, moto_org.central, HOME, moto_handles["central_url"])
    assert moto_received["id"] != moto_sent["Entries"][0]["EventId"]
    assert moto_received.get("account") != moto_org.member_a


def test_sqs_target_gets_the_whole_envelope_with_account(aws: Aws, moto_aws: Aws) -> None:
    for server, has_account in ((aws, True), (moto_aws, False)):
        account = account_id(next(_managements))
        source = unique("app.")
        url, arn = queue(server, account, HOME, unique("q"))
        rule_to(server, account, HOME, source, {"Arn": arn})
        put(server, account, HOME, source)
        (body,) = bodies(server, account, HOME, url)
        assert ("account" in body) is has_account
        if has_account:
            assert body["account"] == account
            assert set(body) == {
                "version",
                "id",
                "detail-type",
                "source",
                "account",
                "time",
                "region",
                "resources",
                "detail",
            }


def test_put_events_from_outside_the_organisation_is_refused(
    aws: Aws, org: Org, moto_aws: Aws, moto_org: Org
) -> None:
    bus_arn, _, url = central_bus(aws, org.central, HOME, org_condition(org))
    outsider = account_id(next(_managements))
    entry = {"Source": "app.x", "DetailType": "Sample", "Detail": "{}", "EventBusName": bus_arn}

    refused = aws.client("events", outsider).put_events(Entries=[entry])
    admitted = aws.client("events", org.member_c).put_events(Entries=[entry])
    own = aws.client("events", org.central).put_events(Entries=[entry])  # same account: no policy needed

    assert refused["FailedEntryCount"] == 1
    assert refused["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    assert admitted["FailedEntryCount"] == 0
    assert own["FailedEntryCount"] == 0
    assert sorted(b["account"] for b in bodies(aws, org.central, HOME, url)) == sorted(
        [org.member_c, org.central]
    )

    moto_bus, _, _ = central_bus(moto_aws, moto_org.central, HOME, org_condition(moto_org))
    try:
        outcome = moto_aws.client("events", outsider).put_events(
            Entries=[{**entry, "EventBusName": moto_bus}]
        )
        codes = [e.get("ErrorCode") for e in outcome["Entries"]]
    except ClientError as error:
        codes = [error.response["Error"]["Code"]]
    assert "AccessDeniedException" not in codes


def test_org_paths_condition_admits_nested_ous_only(aws: Aws, org: Org) -> None:
    path = f"{org.org_id}/{org.root}/{org.ou_a}/*"
    bus_arn, _, url = central_bus(
        aws, org.central, HOME, {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [path]}}
    )
    entry = {"Source": "app.x", "DetailType": "Sample", "Detail": "{}", "EventBusName": bus_arn}

    deep = aws.client("events", org.member_b).put_events(Entries=[entry])  # root/a/b: under a
    beside = aws.client("events", org.member_c).put_events(Entries=[entry])  # root/c: not under a

    assert deep["FailedEntryCount"] == 0
    assert beside["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    assert [b["account"] for b in bodies(aws, org.central, HOME, url)] == [org.member_b]


def test_rule_delivery_refused_by_the_bus_policy_goes_to_the_dlq(aws: Aws, org: Org, moto_aws: Aws) -> None:
    outsider = account_id(next(_managements))
    bus_arn, _, central_url = central_bus(aws, org.central, HOME, org_condition(org))
    dlq_url, dlq_arn = queue(aws, outsider, HOME, unique("dlq"))
    source = unique("app.")
    target = {
        "Arn": bus_arn,
        "RoleArn": forwarder_role(aws, outsider, bus_arn),
        "DeadLetterConfig": {"Arn": dlq_arn},
    }
    rule_arn = rule_to(aws, outsider, HOME, source, target)

    sent = put(aws, outsider, HOME, source)

    assert sent["FailedEntryCount"] == 0  # never a synchronous error for the sender
    assert bodies(aws, org.central, HOME, central_url) == []
    (dead,) = receive(aws, outsider, HOME, dlq_url)
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes["RULE_ARN"] == rule_arn
    assert attributes["TARGET_ARN"] == bus_arn
    assert attributes["ERROR_MESSAGE"]
    assert json.loads(dead["Body"])["id"] == sent["Entries"][0]["EventId"]

    # Plain moto delivers whatever the policy says.
    moto_outsider = account_id(next(_managements))
    moto_central = account_id(next(_managements))
    moto_bus, _, moto_url = central_bus(
        moto_aws, moto_central, HOME, {"StringEquals": {"aws:PrincipalOrgID": "o-none"}}
    )
    moto_source = unique("app.")
    rule_to(moto_aws, moto_outsider, HOME, moto_source, {"Arn": moto_bus})
    put(moto_aws, moto_outsider, HOME, moto_source)
    assert len(bodies(moto_aws, moto_central, HOME, moto_url)) == 1


@pytest.mark.parametrize(
    ("role_kind", "code"),
    [
        ("none", "NO_PERMISSIONS"),
        ("untrusted", "FAILED_TO_ASSUME_ROLE"),
        ("missing", "FAILED_TO_ASSUME_ROLE"),
        ("no-put", "NO_PERMISSIONS"),
    ],
)
def test_bus_target_role_is_checked(aws: Aws, org: Org, role_kind: str, code: str) -> None:
    source = unique("app.")
    bus_arn, _, central_url = central_bus(aws, org.central, HOME, org_condition(org))
    roles: dict[str, Callable[[], str | None]] = {
        "none": lambda: None,
        "untrusted": lambda: forwarder_role(aws, org.member_a, bus_arn, trusted="lambda.amazonaws.com"),
        "missing": lambda: f"arn:aws:iam::{org.member_a}:role/{unique('ghost')}",
        "no-put": lambda: forwarder_role(aws, org.member_a, bus_arn, action="events:DescribeRule"),
    }
    dlq_url, dlq_arn = queue(aws, org.member_a, HOME, unique("dlq"))
    target: dict[str, Any] = {"Arn": bus_arn, "DeadLetterConfig": {"Arn": dlq_arn}}
    role = roles[role_kind]()
    if role:
        target["RoleArn"] = role
    rule_to(aws, org.member_a, HOME, source, target)

    put(aws, org.member_a, HOME, source)

    assert bodies(aws, org.central, HOME, central_url) == []
    (dead,) = receive(aws, org.member_a, HOME, dlq_url)
    assert dead["MessageAttributes"]["ERROR_CODE"]["StringValue"] == code


def test_bad_role_is_ignored_by_plain_moto(moto_aws: Aws) -> None:
    sender, central = account_id(next(_managements)), account_id(next(_managements))
    bus_arn, _, url = central_bus(moto_aws, central, HOME, {"StringEquals": {"aws:PrincipalAccount": sender}})
    source = unique("app.")
    rule_to(moto_aws, sender, HOME, source, {"Arn": bus_arn, "RoleArn": f"arn:aws:iam::{sender}:role/ghost"})
    put(moto_aws, sender, HOME, source)
    assert len(bodies(moto_aws, central, HOME, url)) == 1


def test_disabled_rule_does_not_fire(aws: Aws, moto_aws: Aws) -> None:
    for server, fires in ((aws, False), (moto_aws, True)):
        account, source = account_id(next(_managements)), unique("app.")
        url, arn = queue(server, account, HOME, unique("q"))
        rule_to(server, account, HOME, source, {"Arn": arn}, state="DISABLED")
        put(server, account, HOME, source)
        assert (len(bodies(server, account, HOME, url)) == 1) is fires


def cloudtrail_event(name: str, source: str = "aws.s3") -> dict[str, Any]:
    return {
        "source": source,
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {"eventName": name, "eventSource": "s3.amazonaws.com", "eventCategory": "Management"},
    }


def test_read_only_management_events_reach_only_the_all_events_state(aws: Aws) -> None:
    account = account_id(next(_managements))
    pattern = {"detail-type": ["AWS API Call via CloudTrail"]}
    plain_url, plain_arn = queue(aws, account, HOME, unique("enabled"))
    all_url, all_arn = queue(aws, account, HOME, unique("all"))
    rule_to(aws, account, HOME, "", {"Arn": plain_arn}, pattern=pattern)
    rule_to(
        aws,
        account,
        HOME,
        "",
        {"Arn": all_arn},
        pattern=pattern,
        state="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
    )

    for name in ("GetObjectAcl", "ListBuckets", "DescribeKey", "PutBucketPolicy", "GetSessionToken"):
        emit_aws_event(account, HOME, cloudtrail_event(name))

    enabled = [b["detail"]["eventName"] for b in bodies(aws, account, HOME, plain_url)]
    everything = [b["detail"]["eventName"] for b in bodies(aws, account, HOME, all_url)]
    assert sorted(enabled) == ["GetSessionToken", "PutBucketPolicy"]
    assert sorted(everything) == [
        "DescribeKey",
        "GetObjectAcl",
        "GetSessionToken",
        "ListBuckets",
        "PutBucketPolicy",
    ]


def test_plain_moto_gives_read_only_events_to_enabled_rules(moto_aws: Aws) -> None:
    account = account_id(next(_managements))
    url, arn = queue(moto_aws, account, HOME, unique("enabled"))
    rule_to(
        moto_aws, account, HOME, "", {"Arn": arn}, pattern={"detail-type": ["AWS API Call via CloudTrail"]}
    )
    event = cloudtrail_event("GetObjectAcl", source="app.ct")
    moto_aws.client("events", account).put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
            }
        ]
    )
    assert len(bodies(moto_aws, account, HOME, url)) == 1


def test_reserved_aws_sources_are_refused_but_emit_aws_event_is_not(aws: Aws, moto_aws: Aws) -> None:
    account = account_id(next(_managements))
    url, arn = queue(aws, account, HOME, unique("q"))
    rule_to(aws, account, HOME, "aws.guardduty", {"Arn": arn})

    refused = put(aws, account, HOME, "aws.guardduty")
    event_id = emit_aws_event(
        account, HOME, {"source": "aws.guardduty", "detail-type": "GuardDuty Finding", "detail": {"x": 1}}
    )

    assert refused["FailedEntryCount"] == 1
    assert refused["Entries"][0] == {
        "ErrorCode": "NotAuthorizedForSourceException",
        "ErrorMessage": "Not authorized for the source.",
    }
    (received,) = bodies(aws, account, HOME, url)
    assert (received["id"], received["account"], received["region"]) == (event_id, account, HOME)

    assert put(moto_aws, account, HOME, "aws.guardduty")["FailedEntryCount"] == 0


def test_missing_target_bus_goes_to_the_dlq_or_is_counted_as_dropped(
    aws: Aws, faithful: LocalAws, moto_aws: Aws
) -> None:
    account, other = account_id(next(_managements)), account_id(next(_managements))
    missing_bus = f"arn:aws:events:{HOME}:{other}:event-bus/{unique('nowhere')}"
    dlq_url, dlq_arn = queue(aws, account, HOME, unique("dlq"))
    role = forwarder_role(aws, account, missing_bus)
    with_dlq, without_dlq = unique("app."), unique("app.")
    rule_to(
        aws,
        account,
        HOME,
        with_dlq,
        {"Arn": missing_bus, "RoleArn": role, "DeadLetterConfig": {"Arn": dlq_arn}},
    )
    rule_to(aws, account, HOME, without_dlq, {"Arn": missing_bus, "RoleArn": role})
    dropped_before = faithful.fidelity_log.count("dropped", "NO_RESOURCE")

    assert put(aws, account, HOME, with_dlq)["FailedEntryCount"] == 0
    assert put(aws, account, HOME, without_dlq)["FailedEntryCount"] == 0

    (dead,) = receive(aws, account, HOME, dlq_url)
    assert dead["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_RESOURCE"
    assert faithful.fidelity_log.count("dropped", "NO_RESOURCE") == dropped_before + 1

    # Plain moto fails the sender's PutEvents.
    moto_source = unique("app.")
    rule_to(moto_aws, account, HOME, moto_source, {"Arn": missing_bus})
    with pytest.raises(ClientError):
        put(moto_aws, account, HOME, moto_source)


def test_sqs_target_and_dlq_need_a_queue_policy_for_eventbridge(
    aws: Aws, faithful: LocalAws, moto_aws: Aws
) -> None:
    account, source = account_id(next(_managements)), unique("app.")
    closed_url, closed_arn = queue(aws, account, HOME, unique("closed"), allow_events=False)
    dlq_url, dlq_arn = queue(aws, account, HOME, unique("dlq"))
    rule_to(aws, account, HOME, source, {"Arn": closed_arn, "DeadLetterConfig": {"Arn": dlq_arn}})
    closed_dlq = unique("app.")
    _, closed_dlq_arn = queue(aws, account, HOME, unique("closeddlq"), allow_events=False)
    rule_to(aws, account, HOME, closed_dlq, {"Arn": closed_arn, "DeadLetterConfig": {"Arn": closed_dlq_arn}})
    dropped_before = faithful.fidelity_log.count("dropped", "NO_PERMISSIONS")

    put(aws, account, HOME, source)
    put(aws, account, HOME, closed_dlq)

    assert bodies(aws, account, HOME, closed_url) == []
    (dead,) = receive(aws, account, HOME, dlq_url)
    assert dead["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_PERMISSIONS"
    assert faithful.fidelity_log.count("dropped", "NO_PERMISSIONS") == dropped_before + 1

    moto_url, moto_arn = queue(moto_aws, account, HOME, unique("closed"), allow_events=False)
    rule_to(moto_aws, account, HOME, source, {"Arn": moto_arn})
    put(moto_aws, account, HOME, source)
    assert len(bodies(moto_aws, account, HOME, moto_url)) == 1


def test_third_account_hop_is_not_forwarded(aws: Aws, org: Org) -> None:
    # member -> central bus -> (a rule there) -> a bus in a third account: AWS stops at the second hop.
    source = unique("app.")
    handles = forward(aws, org, source=source)
    third_bus, _, third_url = central_bus(aws, org.member_c, HOME, org_condition(org))
    central_dlq_url, central_dlq_arn = queue(aws, org.central, HOME, unique("dlq"))
    central_bus_name = handles["bus_arn"].split("/")[-1]
    target = {
        "Arn": third_bus,
        "RoleArn": forwarder_role(aws, org.central, third_bus),
        "DeadLetterConfig": {"Arn": central_dlq_arn},
    }
    rule_to(aws, org.central, HOME, source, target, bus=central_bus_name)

    put(aws, org.member_a, OTHER, source)

    assert len(bodies(aws, org.central, HOME, handles["central_url"])) == 1
    assert bodies(aws, org.member_c, HOME, third_url) == []
    (dead,) = receive(aws, org.central, HOME, central_dlq_url)
    assert dead["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "THIRD_ACCOUNT_HOP_DETECTED"


def test_lambda_targets_are_refused_with_a_clear_error(aws: Aws, moto_aws: Aws) -> None:
    account = account_id(next(_managements))
    function = f"arn:aws:lambda:{HOME}:{account}:function:f"
    for server in (aws, moto_aws):
        server.client("events", account).put_rule(
            Name="lambda-rule", EventPattern=json.dumps({"source": ["x"]})
        )
    with pytest.raises(ClientError, match="Lambda targets are not supported"):
        aws.client("events", account).put_targets(Rule="lambda-rule", Targets=[{"Id": "f", "Arn": function}])
    moto_aws.client("events", account).put_targets(Rule="lambda-rule", Targets=[{"Id": "f", "Arn": function}])


# --- CloudFormation ---------------------------------------------------------------------------------


def create_stack(aws: Aws, account: str, template: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    cfn = aws.client("cloudformation", account)
    name = unique("stack")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template), **kwargs)
    stack: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return stack


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


SKIPPED_TYPES_TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "fidelity-bus"}},
        "BusPolicy": {
            "Type": "AWS::Events::EventBusPolicy",
            "Properties": {
                "EventBusName": {"Ref": "Bus"},
                "StatementId": "org",
                "Statement": {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "events:PutEvents",
                    "Resource": {"Fn::GetAtt": ["Bus", "Arn"]},
                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}},
                },
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue"},
        "QueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "Queue"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                        }
                    ],
                },
            },
        },
        "Token": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "Description": "token",
                "GenerateSecretString": {
                    "SecretStringTemplate": "{}",
                    "GenerateStringKey": "token",
                    "PasswordLength": 20,
                },
            },
        },
        "Alarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["Queue", "QueueName"]}}],
                "Statistic": "Maximum",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
            },
        },
    },
    "Outputs": {
        "BusName": {"Value": {"Ref": "Bus"}},
        "TokenArn": {"Value": {"Ref": "Token"}},
        "AlarmName": {"Value": {"Ref": "Alarm"}},
        "QueueUrl": {"Value": {"Ref": "Queue"}},
    },
}


def test_resource_types_moto_skips_are_created_for_real(aws: Aws, moto_aws: Aws) -> None:
    account = account_id(next(_managements))
    stack = create_stack(aws, account, SKIPPED_TYPES_TEMPLATE)
    out = outputs(stack)

    assert stack["StackStatus"] == "CREATE_COMPLETE"
    summaries = aws.client("cloudformation", account).list_stack_resources(StackName=stack["StackName"])
    assert all(r["PhysicalResourceId"] for r in summaries["StackResourceSummaries"])
    assert out["BusName"] == "fidelity-bus"
    policy = json.loads(aws.client("events", account).describe_event_bus(Name="fidelity-bus")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["org"]
    attributes = aws.client("sqs", account).get_queue_attributes(
        QueueUrl=out["QueueUrl"], AttributeNames=["Policy"]
    )
    assert json.loads(attributes["Attributes"]["Policy"])["Statement"][0]["Principal"] == {
        "Service": "events.amazonaws.com"
    }
    secret = aws.client("secretsmanager", account).get_secret_value(SecretId=out["TokenArn"])
    assert secret["ARN"] == out["TokenArn"]
    assert len(json.loads(secret["SecretString"])["token"]) == 20
    alarms = aws.client("cloudwatch", account).describe_alarms(AlarmNames=[out["AlarmName"]])["MetricAlarms"]
    assert alarms[0]["MetricName"] == "ApproximateNumberOfMessagesVisible"

    # Plain moto skips them: the Ref to the secret silently disappears from the outputs.
    template = {**SKIPPED_TYPES_TEMPLATE, "Resources": dict(SKIPPED_TYPES_TEMPLATE["Resources"])}
    template["Resources"]["Bus"] = {"Type": "AWS::Events::EventBus", "Properties": {"Name": unique("bus")}}
    template["Resources"]["BusPolicy"] = {"Type": "AWS::SQS::Queue"}
    template["Outputs"] = {k: v for k, v in template["Outputs"].items() if k != "BusName"}
    moto_stack = create_stack(moto_aws, account, template)
    assert moto_stack["StackStatus"] == "CREATE_COMPLETE"
    assert "TokenArn" not in outputs(moto_stack)


UNSUPPORTED_TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Connection": {"Type": "AWS::Events::Connection", "Properties": {"AuthorizationType": "API_KEY"}},
    },
    "Outputs": {"Connection": {"Value": {"Ref": "Connection"}}},
}


@pytest.mark.parametrize(
    ("options", "status"), [({}, "ROLLBACK_COMPLETE"), ({"DisableRollback": True}, "CREATE_FAILED")]
)
def test_an_unsupported_resource_type_fails_the_stack(aws: Aws, options: dict[str, Any], status: str) -> None:
    account = account_id(next(_managements))
    stack = create_stack(aws, account, UNSUPPORTED_TEMPLATE, **options)

    assert stack["StackStatus"] == status
    assert "AWS::Events::Connection" in stack["StackStatusReason"]
    events = aws.client("cloudformation", account).describe_stack_events(StackName=stack["StackName"])[
        "StackEvents"
    ]
    failed = [
        e for e in events if e["ResourceStatus"] == "CREATE_FAILED" and e["LogicalResourceId"] == "Connection"
    ]
    assert failed
    assert "not supported" in failed[0]["ResourceStatusReason"]
    assert "Outputs" not in stack
    assert aws.client("sqs", account).list_queues().get("QueueUrls", []) == []


def test_plain_moto_skips_unsupported_types(moto_aws: Aws) -> None:
    stack = create_stack(moto_aws, account_id(next(_managements)), UNSUPPORTED_TEMPLATE)
    assert stack["StackStatus"] == "CREATE_COMPLETE"


PARAMETER_TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "State": {"Type": "String", "AllowedValues": ["ENABLED", "DISABLED"], "Default": "ENABLED"},
        "BusArn": {
            "Type": "String",
            "AllowedPattern": r"arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/[\w.\-/]+",
        },
        "Size": {"Type": "Number", "MinValue": 1, "MaxValue": 10, "Default": 5},
    },
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
}
GOOD_BUS = "arn:aws:events:us-east-1:123456789012:event-bus/central"


def parameters(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"BusArn": GOOD_BUS, "State": "ON"}, "Parameter 'State' must be one of AllowedValues"),
        ({"BusArn": "central"}, "Parameter 'BusArn' must match pattern"),
        ({"BusArn": GOOD_BUS, "Size": "11"}, "Parameter 'Size' must be a number not greater than 10"),
        ({"BusArn": GOOD_BUS, "Typo": "x"}, "Parameters: [Typo] do not exist in the template"),
    ],
)
def test_parameters_are_validated_on_create_and_update(
    aws: Aws, moto_aws: Aws, values: dict[str, str], message: str
) -> None:
    account = account_id(next(_managements))
    cfn = aws.client("cloudformation", account)
    with pytest.raises(ClientError, match=re.escape(message)) as refused:
        create_stack(aws, account, PARAMETER_TEMPLATE, Parameters=parameters(**values))
    assert refused.value.response["Error"]["Code"] == "ValidationError"

    stack = create_stack(aws, account, PARAMETER_TEMPLATE, Parameters=parameters(BusArn=GOOD_BUS))
    with pytest.raises(ClientError, match=re.escape(message)):
        cfn.update_stack(
            StackName=stack["StackName"],
            TemplateBody=json.dumps(PARAMETER_TEMPLATE),
            Parameters=parameters(**values),
        )

    assert (
        create_stack(moto_aws, account, PARAMETER_TEMPLATE, Parameters=parameters(**values))["StackStatus"]
        == "CREATE_COMPLETE"
    )


ROLE_TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        }
    }
}


def named_role_template() -> dict[str, Any]:
    template = json.loads(json.dumps(ROLE_TEMPLATE))
    template["Resources"]["Role"]["Properties"]["RoleName"] = unique("named")
    return template


@pytest.mark.parametrize(
    ("template", "given", "missing"),
    [
        (lambda: ROLE_TEMPLATE, [], "CAPABILITY_IAM"),
        (named_role_template, ["CAPABILITY_IAM"], "CAPABILITY_NAMED_IAM"),
    ],
)
def test_iam_resources_need_capabilities(
    aws: Aws, moto_aws: Aws, template: Callable[[], dict[str, Any]], given: list[str], missing: str
) -> None:
    account = account_id(next(_managements))
    with pytest.raises(ClientError, match=re.escape(f"Requires capabilities : [{missing}]")) as refused:
        create_stack(aws, account, template(), Capabilities=given)
    assert refused.value.response["Error"]["Code"] == "InsufficientCapabilitiesException"
    assert create_stack(aws, account, template(), Capabilities=[missing])["StackStatus"] == "CREATE_COMPLETE"

    assert create_stack(moto_aws, account, template(), Capabilities=given)["StackStatus"] == "CREATE_COMPLETE"


BUS_REF_TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "REPLACED"}},
        "Archive": {
            "Type": "AWS::Events::Archive",
            "Properties": {
                "SourceArn": {"Fn::GetAtt": ["Bus", "Arn"]},
                "RetentionDays": 7,
                "EventPattern": {"source": [{"prefix": ""}]},
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Rule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventBusName": {"Ref": "Bus"},
                "EventPattern": {"source": ["app"]},
                "Targets": [{"Id": "q", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}],
            },
        },
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
            },
        },
    },
    "Outputs": {"BusName": {"Value": {"Ref": "Bus"}}, "Table": {"Value": {"Ref": "Table"}}},
}


def bus_ref_template() -> dict[str, Any]:
    template = json.loads(json.dumps(BUS_REF_TEMPLATE))
    template["Resources"]["Bus"]["Properties"]["Name"] = unique("bus")
    return template


def test_bus_ref_archive_pattern_and_table_ttl(aws: Aws, moto_aws: Aws) -> None:
    account = account_id(next(_managements))
    template = bus_ref_template()
    stack = create_stack(aws, account, template)
    out = outputs(stack)

    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert out["BusName"] == template["Resources"]["Bus"]["Properties"]["Name"]
    rules = aws.client("events", account).list_rules(EventBusName=out["BusName"])["Rules"]
    assert any(json.loads(r["EventPattern"]) == {"source": ["app"]} for r in rules)
    archive = aws.client("events", account).list_archives()["Archives"][0]
    assert len(archive["ArchiveName"]) <= 48
    ttl = aws.client("dynamodb", account).describe_time_to_live(TableName=out["Table"])[
        "TimeToLiveDescription"
    ]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiration"}

    with pytest.raises((ClientError, ResponseParserError)):  # plain moto: a 500, !Ref of a bus crashes it
        create_stack(moto_aws, account, bus_ref_template())


def test_function_side_resources_are_real(aws: Aws) -> None:
    # Mostly what moto already gets right (kept under test), plus EventInvokeConfig, which it skipped.
    account = account_id(next(_managements))
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Logs": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": unique("/aws/lambda/f"), "RetentionInDays": 30},
            },
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": ROLE_TEMPLATE["Resources"]["Role"]["Properties"][
                        "AssumeRolePolicyDocument"
                    ],
                    "Policies": [
                        {
                            "PolicyName": "inline",
                            "PolicyDocument": {
                                "Version": "2012-10-17",
                                "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
                            },
                        }
                    ],
                },
            },
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "app.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": "x"},
                },
            },
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "FunctionName": {"Ref": "Function"},
                    "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
                    "BatchSize": 10,
                    "MaximumBatchingWindowInSeconds": 5,
                    "ScalingConfig": {"MaximumConcurrency": 5},
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                },
            },
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True}},
            "InvokeConfig": {
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {
                    "FunctionName": {"Ref": "Function"},
                    "Qualifier": "$LATEST",
                    "MaximumRetryAttempts": 0,
                },
            },
        },
        "Outputs": {
            "Role": {"Value": {"Ref": "Role"}},
            "Key": {"Value": {"Ref": "Key"}},
            "Logs": {"Value": {"Ref": "Logs"}},
        },
    }
    stack = create_stack(aws, account, template, Capabilities=["CAPABILITY_IAM"])
    out = outputs(stack)

    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    (mapping,) = aws.client("lambda", account).list_event_source_mappings()["EventSourceMappings"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["MaximumBatchingWindowInSeconds"] == 5
    (group,) = aws.client("logs", account).describe_log_groups(logGroupNamePrefix=out["Logs"])["logGroups"]
    assert group["retentionInDays"] == 30
    assert aws.client("iam", account).list_role_policies(RoleName=out["Role"])["PolicyNames"] == ["inline"]
    assert aws.client("kms", account).get_key_rotation_status(KeyId=out["Key"])["KeyRotationEnabled"] is True
    function = aws.client("lambda", account).list_functions()["Functions"][0]["FunctionName"]
    invoke_config = aws.client("lambda", account).get_function_event_invoke_config(FunctionName=function)
    assert invoke_config["MaximumRetryAttempts"] == 0


# --- StackSets ---------------------------------------------------------------------------------------

MEMBER_TEMPLATE: dict[str, Any] = {
    "Parameters": {"Label": {"Type": "String", "Default": "v1"}},
    "Resources": {
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"Tags": [{"Key": "label", "Value": {"Ref": "Label"}}]},
        }
    },
    "Outputs": {"Label": {"Value": {"Ref": "Label"}}},
}
STACKSET_REGIONS = [HOME, OTHER]


def stack_set(aws: Aws, caller: str, *, retain: bool = False, **kwargs: Any) -> tuple[str, Any]:
    cfn = aws.client("cloudformation", caller)
    name = unique("member-")
    cfn.create_stack_set(
        StackSetName=name,
        TemplateBody=json.dumps(MEMBER_TEMPLATE),
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": retain},
        **kwargs,
    )
    return name, cfn


def instances(cfn: Any, name: str, **kwargs: Any) -> set[tuple[str, str]]:
    summaries = cfn.list_stack_instances(StackSetName=name, **kwargs)["Summaries"]
    return {(s["Account"], s["Region"]) for s in summaries}


def member_stacks(aws: Aws, account: str, region: str, stack_set_name: str) -> list[dict[str, Any]]:
    stacks = aws.client("cloudformation", account, region).describe_stacks()["Stacks"]
    return [s for s in stacks if s["StackName"].startswith(f"StackSet-{stack_set_name}-")]


def test_ou_targets_expand_at_any_depth_and_skip_the_management_account(aws: Aws, moto_aws: Aws) -> None:
    org = organization(aws)
    name, cfn = stack_set(aws, org.management)

    cfn.create_stack_instances(
        StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [org.root]}, Regions=STACKSET_REGIONS
    )

    members = [org.member_a, org.member_b, org.member_c, org.central]
    assert instances(cfn, name) == {(a, r) for a in members for r in STACKSET_REGIONS}
    (deep,) = member_stacks(aws, org.member_b, OTHER, name)  # visible from the member account
    assert deep["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(deep) == {"Label": "v1"}
    assert cfn.describe_stack_set(StackSetName=name)["StackSet"]["AutoDeployment"]["Enabled"] is True

    moto_org = organization(moto_aws)
    moto_name, moto_cfn = stack_set(moto_aws, moto_org.management)
    moto_cfn.create_stack_instances(
        StackSetName=moto_name, DeploymentTargets={"OrganizationalUnitIds": [moto_org.root]}, Regions=[HOME]
    )
    moto_accounts = {a for a, _ in instances(moto_cfn, moto_name)}
    assert moto_org.management in moto_accounts or moto_org.member_b not in moto_accounts


def test_auto_deployment_follows_accounts_into_and_out_of_targeted_ous(aws: Aws, moto_aws: Aws) -> None:
    for server, faithful_server in ((aws, True), (moto_aws, False)):
        org = organization(server)
        name, cfn = stack_set(server, org.management)
        cfn.create_stack_instances(
            StackSetName=name,
            DeploymentTargets={"OrganizationalUnitIds": [org.ou_a]},
            Regions=STACKSET_REGIONS,
        )
        orgs = server.client("organizations", org.management)

        newcomer = orgs.create_account(AccountName=unique("new"), Email="n@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        orgs.move_account(AccountId=newcomer, SourceParentId=org.root, DestinationParentId=org.ou_b)
        arrived = {a for a, _ in instances(cfn, name)}
        orgs.move_account(AccountId=org.member_a, SourceParentId=org.ou_a, DestinationParentId=org.ou_c)
        left = {a for a, _ in instances(cfn, name)}

        if faithful_server:
            assert arrived == {org.member_a, org.member_b, newcomer}
            assert left == {org.member_b, newcomer}
            assert member_stacks(server, org.member_a, HOME, name) == []
            assert len(member_stacks(server, newcomer, OTHER, name)) == 1
        else:
            assert newcomer not in arrived
            assert org.member_a in left


def test_removed_accounts_keep_their_stacks_when_asked_to(aws: Aws) -> None:
    org = organization(aws)
    name, cfn = stack_set(aws, org.management, retain=True)
    cfn.create_stack_instances(
        StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [org.ou_a]}, Regions=[HOME]
    )

    aws.client("organizations", org.management).move_account(
        AccountId=org.member_a, SourceParentId=org.ou_a, DestinationParentId=org.ou_c
    )

    assert org.member_a not in {a for a, _ in instances(cfn, name)}
    assert len(member_stacks(aws, org.member_a, HOME, name)) == 1


def test_update_stack_set_updates_the_instances(aws: Aws, moto_aws: Aws) -> None:
    for server, updates in ((aws, True), (moto_aws, False)):
        org = organization(server)
        name, cfn = stack_set(server, org.management)
        cfn.create_stack_instances(
            StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [org.ou_b]}, Regions=[HOME]
        )

        cfn.update_stack_set(
            StackSetName=name, TemplateBody=json.dumps(MEMBER_TEMPLATE), Parameters=parameters(Label="v2")
        )

        stacks = server.client("cloudformation", org.member_b).describe_stacks()["Stacks"]
        labels = {o["OutputValue"] for s in stacks for o in s.get("Outputs", []) if o["OutputKey"] == "Label"}
        assert ("v2" in labels) is updates


def test_delete_stack_instances_by_ou(aws: Aws, moto_aws: Aws) -> None:
    for server, deletes in ((aws, True), (moto_aws, False)):
        org = organization(server)
        name, cfn = stack_set(server, org.management)
        targets = {"OrganizationalUnitIds": [org.ou_a]}
        cfn.create_stack_instances(StackSetName=name, DeploymentTargets=targets, Regions=[HOME])

        cfn.delete_stack_instances(
            StackSetName=name, DeploymentTargets=targets, Regions=[HOME], RetainStacks=False
        )

        assert (instances(cfn, name) == set()) is deletes
        if deletes:
            assert member_stacks(server, org.member_b, HOME, name) == []


def test_delegated_administrator_may_call_as_delegated_admin(aws: Aws, moto_aws: Aws) -> None:
    org = organization(aws)
    principal = "member.org.stacksets.cloudformation.amazonaws.com"
    aws.client("organizations", org.management).register_delegated_administrator(
        AccountId=org.central, ServicePrincipal=principal
    )

    name, _ = stack_set(aws, org.central, CallAs="DELEGATED_ADMIN")
    delegated = aws.client("cloudformation", org.central)
    delegated.create_stack_instances(
        StackSetName=name,
        DeploymentTargets={"OrganizationalUnitIds": [org.ou_c]},
        Regions=[HOME],
        CallAs="DELEGATED_ADMIN",
    )

    management = aws.client("cloudformation", org.management)
    assert (
        management.describe_stack_set(StackSetName=name)["StackSet"]["PermissionModel"] == "SERVICE_MANAGED"
    )
    assert instances(delegated, name, CallAs="DELEGATED_ADMIN") == {(org.member_c, HOME), (org.central, HOME)}
    with pytest.raises(ClientError, match="not registered as a delegated administrator"):
        stack_set(aws, org.member_a, CallAs="DELEGATED_ADMIN")
    with pytest.raises(ClientError, match="management account"):
        stack_set(aws, org.member_a)

    moto_org = organization(moto_aws)
    with pytest.raises(ClientError, match="unrecognized service principal"):
        moto_aws.client("organizations", moto_org.management).register_delegated_administrator(
            AccountId=moto_org.central, ServicePrincipal=principal
        )


# --- Lambda and SQS ----------------------------------------------------------------------------------


def echo_function(server: Aws, account: str) -> str:
    """A Python function returning its event, with a role Lambda may assume; its name."""
    iam = server.client("iam", account)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName=unique("fn"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    name = unique("fn")
    server.client("lambda", account).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )
    return name


def function_with_mapping(server: Aws, account: str) -> tuple[str, str]:
    function = echo_function(server, account)
    url, arn = queue(server, account, HOME, unique("buffer"))
    server.client("lambda", account).create_event_source_mapping(
        EventSourceArn=arn, FunctionName=function, BatchSize=5, ScalingConfig={"MaximumConcurrency": 2}
    )
    return function, url


def test_event_source_mappings_never_consume_the_queue(aws: Aws, moto_aws: Aws, plain: LocalAws) -> None:
    account = account_id(next(_managements))
    function, url = function_with_mapping(aws, account)

    aws.client("sqs", account).send_message(QueueUrl=url, MessageBody="kept")

    assert [m["Body"] for m in receive(aws, account, HOME, url)] == ["kept"]
    (mapping,) = aws.client("lambda", account).list_event_source_mappings(FunctionName=function)[
        "EventSourceMappings"
    ]
    assert mapping["BatchSize"] == 5
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert aws.client("lambda", account).get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled"

    # Plain moto without Docker "runs" the function and deletes the message.
    import urllib.request

    def use_docker(value: bool) -> None:
        # moto's configuration is process-wide: it is restored after, or every later test in this
        # process would get moto's no-Docker Lambda backend (which bypasses the invoke patches).
        request = urllib.request.Request(
            f"{plain.endpoint_url}/moto-api/config",
            data=json.dumps({"lambda": {"use_docker": value}}).encode(),
            method="POST",
        )
        urllib.request.urlopen(request).close()

    use_docker(False)
    try:
        moto_account = account_id(next(_managements))
        _, moto_url = function_with_mapping(moto_aws, moto_account)
        moto_aws.client("sqs", moto_account).send_message(QueueUrl=moto_url, MessageBody="eaten")
        assert receive(moto_aws, moto_account, HOME, moto_url) == []
    finally:
        use_docker(True)


def test_redrive_receive_count_and_visibility(aws: Aws) -> None:
    account = account_id(next(_managements))
    sqs = aws.client("sqs", account)
    dlq_url, dlq_arn = queue(aws, account, HOME, unique("dlq"))
    url = sqs.create_queue(
        QueueName=unique("src"),
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
            "VisibilityTimeout": "30",
        },
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")

    counts = []
    for _ in range(2):
        (message,) = receive(aws, account, HOME, url)
        counts.append(message["Attributes"]["ApproximateReceiveCount"])
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )

    assert counts == ["1", "2"]
    assert receive(aws, account, HOME, url) == []  # the third receive moves it instead
    assert [m["Body"] for m in receive(aws, account, HOME, dlq_url)] == ["poison"]


def test_start_message_move_task_redrives_the_dlq(aws: Aws, moto_aws: Aws) -> None:
    account = account_id(next(_managements))
    sqs = aws.client("sqs", account)
    dlq_url, dlq_arn = queue(aws, account, HOME, unique("dlq"))
    url = sqs.create_queue(
        QueueName=unique("src"),
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})},
    )["QueueUrl"]
    other_url, other_arn = queue(aws, account, HOME, unique("elsewhere"))
    for body in ("a", "b"):
        sqs.send_message(
            QueueUrl=dlq_url,
            MessageBody=body,
            MessageAttributes={"k": {"DataType": "String", "StringValue": body}},
        )

    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]

    (task,) = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert task["TaskHandle"] == handle
    assert task["Status"] == "COMPLETED"
    assert task["ApproximateNumberOfMessagesMoved"] == 2
    moved = receive(aws, account, HOME, url)
    assert sorted(m["Body"] for m in moved) == ["a", "b"]
    assert {m["MessageAttributes"]["k"]["StringValue"] for m in moved} == {"a", "b"}
    assert receive(aws, account, HOME, dlq_url) == []

    sqs.send_message(QueueUrl=dlq_url, MessageBody="c")
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=other_arn)
    assert [m["Body"] for m in receive(aws, account, HOME, other_url)] == ["c"]
    with pytest.raises(ClientError, match="Dead Letter Queue"):
        sqs.start_message_move_task(SourceArn=other_arn)

    _, moto_dlq_arn = queue(moto_aws, account, HOME, unique("dlq"))
    with pytest.raises((ClientError, ResponseParserError)):
        moto_aws.client("sqs", account).start_message_move_task(SourceArn=moto_dlq_arn)


def test_a_queue_encrypted_with_a_key_eventbridge_may_not_use_gets_nothing(aws: Aws, moto_aws: Aws) -> None:
    for server, delivered in ((aws, False), (moto_aws, True)):
        account, source = account_id(next(_managements)), unique("app.")
        key = server.client("kms", account).create_key()["KeyMetadata"][
            "Arn"
        ]  # default policy: the account only
        url, arn = queue(server, account, HOME, unique("encrypted"))
        server.client("sqs", account).set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": key})
        dlq_url, dlq_arn = queue(server, account, HOME, unique("dlq"))
        rule_to(server, account, HOME, source, {"Arn": arn, "DeadLetterConfig": {"Arn": dlq_arn}})

        put(server, account, HOME, source)

        assert (len(bodies(server, account, HOME, url)) == 1) is delivered
        if not delivered:
            (dead,) = receive(server, account, HOME, dlq_url)
            assert dead["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_PERMISSIONS"
            assert "KMS key" in dead["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"]


def test_set_queue_attributes_keeps_the_policy_it_does_not_name(aws: Aws, moto_aws: Aws) -> None:
    for server, kept in ((aws, True), (moto_aws, False)):
        account = account_id(next(_managements))
        url, _ = queue(server, account, HOME, unique("q"))
        sqs = server.client("sqs", account)

        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "60"})

        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["VisibilityTimeout"] == "60"
        assert ("Policy" in attributes) is kept


LIST_PARAMETER_TEMPLATE: dict[str, Any] = {
    "Parameters": {"Paths": {"Type": "CommaDelimitedList", "Default": ""}},
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
}


@pytest.mark.parametrize("given", ["", "o-abc/r-ab12/ou-ab12-11111111/,o-abc/r-ab12/"])
def test_a_list_parameter_is_described_as_it_was_given(aws: Aws, moto_aws: Aws, given: str) -> None:
    account = account_id(next(_managements))
    params = [{"ParameterKey": "Paths", "ParameterValue": given}]

    stack = create_stack(aws, account, LIST_PARAMETER_TEMPLATE, Parameters=params)
    described = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert described == {"Paths": given}

    # plain moto shows the Python list, so a second deploy always sees a change
    plain = create_stack(moto_aws, account, LIST_PARAMETER_TEMPLATE, Parameters=params)
    assert {p["ParameterKey"]: p["ParameterValue"] for p in plain["Parameters"]} == {
        "Paths": str(given.split(","))
    }


NO_ECHO_TEMPLATE: dict[str, Any] = {
    "Parameters": {"Token": {"Type": "String", "NoEcho": True, "Default": ""}},
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
}


def test_a_no_echo_parameter_is_masked(aws: Aws, moto_aws: Aws) -> None:
    account = account_id(next(_managements))
    params = [{"ParameterKey": "Token", "ParameterValue": "s3cr3t-value"}]
    stack = create_stack(aws, account, NO_ECHO_TEMPLATE, Parameters=params)
    assert stack["Parameters"] == [{"ParameterKey": "Token", "ParameterValue": "****"}]
    # plain moto compares values with the NoEcho keys, so it shows the secret
    plain = create_stack(moto_aws, account, NO_ECHO_TEMPLATE, Parameters=params)
    assert plain["Parameters"] == [{"ParameterKey": "Token", "ParameterValue": "s3cr3t-value"}]


def test_function_environment_variables_are_strings(aws: Aws, moto_aws: Aws) -> None:
    # CloudFormation hands a String property the string: `!Ref` of a Number parameter, a bare
    # number or boolean of the template. The handler parses E2P_* variables from strings.
    account = account_id(next(_managements))
    template = {
        "Parameters": {"Concurrency": {"Type": "Number", "Default": 16}},
        "Resources": {
            "Role": ROLE_TEMPLATE["Resources"]["Role"],
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "app.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": "x"},
                    "Environment": {
                        "Variables": {"N": {"Ref": "Concurrency"}, "FLAG": True, "RATIO": 0.5, "NAME": "x"}
                    },
                },
            },
        },
        "Outputs": {"Name": {"Value": {"Ref": "Function"}}},
    }
    expected = {"N": "16", "FLAG": "true", "RATIO": "0.5", "NAME": "x"}
    stack = create_stack(aws, account, template, Capabilities=["CAPABILITY_IAM"])
    configuration = aws.client("lambda", account).get_function_configuration(
        FunctionName=outputs(stack)["Name"]
    )
    assert configuration["Environment"]["Variables"] == expected
    plain = create_stack(moto_aws, account, template, Capabilities=["CAPABILITY_IAM"])
    plain_configuration = moto_aws.client("lambda", account).get_function_configuration(
        FunctionName=outputs(plain)["Name"]
    )
    assert plain_configuration["Environment"]["Variables"]["N"] == 16


# ---------------------------------------------------------------- DynamoDB


def test_racing_conditional_puts_have_exactly_one_winner() -> None:
    # GIVEN the patch (installed by every local world) and threads racing to claim the same keys,
    # as the handler's delivery threads do with idempotency claims. Plain moto let two threads pass
    # `attribute_not_exists` for one key now and then (seen: 3 of 200 keys, 4 threads, 1 run in 3).
    from moto import mock_aws

    from e2p.local.fidelity import dynamodb

    dynamodb.install()
    threads, keys = 4, 100
    wins: Counter[int] = Counter()
    counting = threading.Lock()
    start = threading.Barrier(threads)
    with mock_aws():
        boto3.client("dynamodb", region_name=HOME).create_table(
            TableName="claims",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def claim_all(worker: int) -> None:
            client = boto3.client("dynamodb", region_name=HOME)
            start.wait()
            for key in range(keys):
                try:
                    client.put_item(
                        TableName="claims",
                        Item={"id": {"S": f"k{key}"}, "by": {"S": str(worker)}},
                        ConditionExpression="attribute_not_exists(id)",
                    )
                except client.exceptions.ConditionalCheckFailedException:
                    continue
                with counting:
                    wins[key] += 1

        workers = [threading.Thread(target=claim_all, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    # THEN, as in DynamoDB, every key was claimed by exactly one writer
    assert sorted(set(wins.values())) == [1]
    assert len(wins) == keys


def _ledger_conversation() -> list[Any]:
    """The idempotency ledger's requests (powertools' expressions), plus failures and reads, run
    twice over (the second time from the memo), and every answer moto gives, errors included."""
    from moto import mock_aws

    claim_condition = (
        "attribute_not_exists(#id) OR #expiry < :now OR (#status = :inprogress AND "
        "attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)"
    )
    claim_names = {"#id": "id", "#expiry": "expiration", "#in_progress_expiry": "ipe", "#status": "status"}
    complete = "SET #response_data = :response_data, #expiry = :expiry, #status = :status"
    answers: list[Any] = []
    with mock_aws():
        client = boto3.client("dynamodb", region_name=HOME)
        client.create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def ask(operation: str, **request: Any) -> None:
            try:
                answer = getattr(client, operation)(TableName="ledger", **request)
            except ClientError as exc:
                answers.append((operation, exc.response["Error"], exc.response.get("Item")))
            else:
                answer.pop("ResponseMetadata", None)
                answers.append((operation, answer))

        for round_ in range(2):
            for key in (f"k{round_}a", f"k{round_}b", f"k{round_}a"):  # the third claim is refused
                ask(
                    "put_item",
                    Item={"id": {"S": key}, "expiration": {"N": "2000"}, "status": {"S": "INPROGRESS"}},
                    ConditionExpression=claim_condition,
                    ExpressionAttributeNames=claim_names,
                    ExpressionAttributeValues={
                        ":now": {"N": str(1000 + round_)},
                        ":now_in_millis": {"N": str(1_000_000 + round_)},
                        ":inprogress": {"S": "INPROGRESS"},
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                ask(
                    "update_item",
                    Key={"id": {"S": key}},
                    UpdateExpression=complete,
                    ExpressionAttributeNames={
                        "#response_data": "data",
                        "#expiry": "expiration",
                        "#status": "status",
                    },
                    ExpressionAttributeValues={
                        ":response_data": {"S": f"done {round_}"},
                        ":expiry": {"N": "3000"},
                        ":status": {"S": "COMPLETED"},
                    },
                    ReturnValues="ALL_NEW",
                )
                ask("get_item", Key={"id": {"S": key}}, ConsistentRead=True)
            # A refused conditional update, an expression that does not parse, values and names left unused.
            ask(
                "update_item",
                Key={"id": {"S": f"k{round_}a"}},
                UpdateExpression="SET #status = :status",
                ConditionExpression="#status = :inprogress",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":status": {"S": "X"}, ":inprogress": {"S": "INPROGRESS"}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            ask(
                "update_item",
                Key={"id": {"S": f"k{round_}b"}},
                UpdateExpression="SET #status = = :status",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":status": {"S": "X"}},
            )
            ask(
                "put_item",
                Item={"id": {"S": f"k{round_}c"}},
                ConditionExpression="attribute_not_exists(id)",
                ExpressionAttributeValues={":unused": {"S": "x"}},
            )
            ask(
                "delete_item",
                Key={"id": {"S": f"k{round_}b"}},
                ConditionExpression="#status = :done",
                ExpressionAttributeNames={"#status": "status", "#unused": "x"},
                ExpressionAttributeValues={":done": {"S": "COMPLETED"}},
            )
            ask("scan")
    return answers


def _tree_shape(node: Any) -> Any:
    """An UpdateExpression tree as nested (node type, children), leaves as they are."""
    if not hasattr(node, "children"):
        return node
    return (type(node).__name__, [_tree_shape(child) for child in node.children or []])


def test_memoised_expression_parsing_changes_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the patch (it memoises moto's UpdateExpression parser and ConditionExpression lexer by
    # text; about 10% less CPU per ledger request) and the same conversation without the memo
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    from e2p.local.fidelity import dynamodb, patching

    dynamodb.install()
    memoised = _ledger_conversation()
    # The memo hands out one tree per text: nothing moto did above may have changed it.
    tree = UpdateExpressionParser.make(
        "SET #response_data = :response_data, #expiry = :expiry, #status = :status"
    )
    assert tree is UpdateExpressionParser.make(
        "SET #response_data = :response_data, #expiry = :expiry, #status = :status"
    )
    shape = _tree_shape(tree)
    with monkeypatch.context() as plain:
        plain.setattr(UpdateExpressionParser, "make", patching.original(UpdateExpressionParser, "make"))
        lexer = "_lex_condition_expression"
        plain.setattr(ConditionExpressionParser, lexer, patching.original(ConditionExpressionParser, lexer))
        unpatched = _ledger_conversation()
        fresh = UpdateExpressionParser.make(
            "SET #response_data = :response_data, #expiry = :expiry, #status = :status"
        )
    # THEN moto answers exactly as before: claims, refusals (with the old item), reads, errors
    assert memoised == unpatched
    assert [a[1]["Code"] for a in memoised if isinstance(a[1], dict) and "Code" in a[1]] == [
        "ConditionalCheckFailedException",  # the claim of a taken key, with the old item
        "ConditionalCheckFailedException",  # the refused conditional update, with the old item
        "ValidationException",  # the expression that does not parse
        "ValidationException",  # the delete with a name left unused (moto lets the put's unused value by)
    ] * 2
    assert _tree_shape(fresh) == shape == _tree_shape(tree)
