"""The member template: plain CloudFormation that a service-managed StackSet can run in every region of
every account, forwarding one hop to the central bus without ever losing an event silently."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
FOURTEEN_DAYS_S = 14 * 24 * 3600
RULE_ARN = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${ForwarderName}"
# Properties that give a resource a fixed physical name. In a template deployed to every region of an
# account, a fixed IAM name collides in the second region; the other names are avoided as well so that
# two stacks of this template never collide anywhere.
FIXED_NAME_PROPERTIES = {
    "RoleName",
    "ManagedPolicyName",
    "InstanceProfileName",
    "GroupName",
    "UserName",
    "QueueName",
    "Name",
    "AlarmName",
    "TopicName",
    "FunctionName",
    "LogGroupName",
    "TableName",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded, errors = decode_str((ROOT / "member" / "template.yaml").read_text())
    assert not errors, errors
    return loaded


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == resource_type}


def only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = of_type(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def test_plain_cloudformation_for_a_service_managed_stackset(template: dict[str, Any]) -> None:
    assert "Transform" not in template
    types = {res["Type"] for res in template["Resources"].values()}
    assert not {t for t in types if t.startswith("AWS::Serverless::")}
    assert "AWS::CloudFormation::Stack" not in types


# Fixed on purpose: the central bus policy names the forwarder role (aws:PrincipalArn) and the role's
# trust policy names the rule (aws:SourceArn). The role name carries the region (IAM names are global);
# a rule name is per region and bus already.
DELIBERATELY_NAMED = {
    "ForwarderRole": {"RoleName": {"Fn::Sub": "${ForwarderName}-${AWS::Region}"}},
    "ForwardRule": {"Name": {"Ref": "ForwarderName"}},
}


def test_no_resource_has_a_fixed_name_but_the_forwarders(template: dict[str, Any]) -> None:
    named = {
        name: {key: res["Properties"][key] for key in set(res.get("Properties", {})) & FIXED_NAME_PROPERTIES}
        for name, res in template["Resources"].items()
    }
    for name, expected in DELIBERATELY_NAMED.items():
        assert named[name] == expected, name
    pattern = template["Parameters"]["ForwarderName"]["AllowedPattern"]
    # <name>-<region> fits IAM's 64 characters for the longest region names.
    assert re.fullmatch(pattern, "x" * 49)
    assert not re.fullmatch(pattern, "x" * 50)
    assert len("x" * 49 + "-ap-southeast-2") <= 64


def test_parameters_of_the_contract(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert {"CentralEventBusArn", "EventPattern", "RuleState"} <= set(params)
    assert params["CentralEventBusArn"]["Type"] == "String"
    assert params["CentralEventBusArn"]["AllowedPattern"]
    assert params["EventPattern"]["Type"] == "String"
    assert params["EventPattern"]["MaxLength"] == 2048
    assert params["RuleState"]["Default"] == "ENABLED"
    assert set(params["RuleState"]["AllowedValues"]) == {
        "ENABLED",
        "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        "DISABLED",
    }


@pytest.mark.parametrize(
    ("arn", "accepted"),
    [
        ("arn:aws:events:eu-west-1:123456789012:event-bus/events2panther", True),
        ("arn:aws-us-gov:events:us-gov-west-1:123456789012:event-bus/events2panther", True),
        ("arn:aws:events:eu-west-1:123456789012:rule/events2panther", False),
        ("arn:aws:sqs:eu-west-1:123456789012:events2panther", False),
        ("events2panther", False),
    ],
)
def test_central_bus_arn_pattern(template: dict[str, Any], arn: str, accepted: bool) -> None:
    # CloudFormation matches AllowedPattern against the whole value.
    pattern = template["Parameters"]["CentralEventBusArn"]["AllowedPattern"]
    assert (re.fullmatch(pattern, arn) is not None) is accepted


def test_outputs_of_the_contract(template: dict[str, Any]) -> None:
    assert set(template["Outputs"]) == {
        "RuleArn",
        "ForwarderRoleArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "HeartbeatScheduleArn",
    }


def test_rule_on_the_default_bus_with_the_pattern_and_state_parameters(template: dict[str, Any]) -> None:
    _, rule = only(template, "AWS::Events::Rule")
    props = rule["Properties"]
    assert props.get("EventBusName", "default") == "default"
    assert props["EventPattern"] == {"Ref": "EventPattern"}
    assert props["State"] == {"Ref": "RuleState"}


def test_one_target_the_central_bus_through_the_role_with_dlq(template: dict[str, Any]) -> None:
    _, rule = only(template, "AWS::Events::Rule")
    role_name = "ForwarderRole"
    queue_name, _ = only(template, "AWS::SQS::Queue")
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "CentralEventBusArn"}
    assert target["RoleArn"] == {"Fn::GetAtt": [role_name, "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_name, "Arn"]}
    # AWS documents RetryPolicy as not supported for event bus targets; EventBridge's default (24 h, 185
    # attempts) applies.
    assert "RetryPolicy" not in target


def test_role_may_only_put_events_on_the_central_bus(template: dict[str, Any]) -> None:
    role = template["Resources"]["ForwarderRole"]
    props = role["Properties"]
    (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    # Only this stack's rule (its ARN from the rule's fixed name: no circular GetAtt) may pass the role.
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnEquals": {"aws:SourceArn": {"Fn::Sub": RULE_ARN}},
    }
    statements = [s for policy in props["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert statements == [
        {"Effect": "Allow", "Action": "events:PutEvents", "Resource": {"Ref": "CentralEventBusArn"}}
    ]


def test_dead_letter_queue_is_encrypted_and_keeps_messages_fourteen_days(template: dict[str, Any]) -> None:
    _, queue = only(template, "AWS::SQS::Queue")
    props = queue["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert props["MessageRetentionPeriod"] == FOURTEEN_DAYS_S
    assert "FifoQueue" not in props  # EventBridge dead-letter queues must be standard queues
    # It may hold the only copy of undelivered events: kept when the stack instance goes.
    assert queue["DeletionPolicy"] == queue["UpdateReplacePolicy"] == "Retain"


def test_only_this_rule_may_write_to_the_dead_letter_queue(template: dict[str, Any]) -> None:
    rule_name, _ = only(template, "AWS::Events::Rule")
    queue_name, _ = only(template, "AWS::SQS::Queue")
    _, policy = only(template, "AWS::SQS::QueuePolicy")
    assert policy["Properties"]["Queues"] == [{"Ref": queue_name}]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == {"Fn::GetAtt": [queue_name, "Arn"]}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_name, "Arn"]}}}


def test_dead_letter_queue_depth_alarm(template: dict[str, Any]) -> None:
    queue_name, _ = only(template, "AWS::SQS::Queue")
    _, alarm = only(template, "AWS::CloudWatch::Alarm")
    # Off by default (~$0.10 per account x region per month); `e2p status` reads the depths instead.
    assert alarm["Condition"] == "DeadLetterAlarmOn"
    assert template["Parameters"]["DeadLetterAlarm"]["Default"] == "false"
    assert template["Conditions"]["DeadLetterAlarmOn"] == {"Fn::Equals": [{"Ref": "DeadLetterAlarm"}, "true"]}
    props = alarm["Properties"]
    assert (props["Namespace"], props["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_name, "QueueName"]}}]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)


def test_heartbeat_schedule_puts_on_this_accounts_default_bus(template: dict[str, Any]) -> None:
    """EventBridge Scheduler's templated EventBridge target (PutEvents) on the account's own default
    bus, through a role only scheduler.amazonaws.com of this account may assume, allowed PutEvents on
    that bus alone; off when HeartbeatMinutes is 0."""
    minutes = template["Parameters"]["HeartbeatMinutes"]
    assert (minutes["Default"], minutes["MinValue"]) == (15, 0)
    assert template["Conditions"]["HeartbeatOn"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "HeartbeatMinutes"}, 0]}]
    }
    _, schedule = only(template, "AWS::Scheduler::Schedule")
    role = template["Resources"]["HeartbeatRole"]
    assert schedule["Condition"] == role["Condition"] == "HeartbeatOn"
    default_bus = {
        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
    }
    target = schedule["Properties"]["Target"]
    assert target["Arn"] == default_bus
    assert target["RoleArn"] == {"Fn::GetAtt": ["HeartbeatRole", "Arn"]}
    assert target["EventBridgeParameters"] == {
        "Source": "events2panther.heartbeat",
        "DetailType": "Events2Panther Heartbeat",
    }
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    statements = [
        s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]
    ]
    assert statements == [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": default_bus}]


def test_the_forwarding_pattern_admits_the_heartbeat(template: dict[str, Any]) -> None:
    import json

    from moto.events.models import EventPattern

    pattern = EventPattern.load(template["Parameters"]["EventPattern"]["Default"])
    heartbeat = {
        "source": "events2panther.heartbeat",
        "detail-type": "Events2Panther Heartbeat",
        "detail": {},
    }
    assert pattern.matches_event(json.loads(json.dumps(heartbeat)))
    assert not pattern.matches_event({**heartbeat, "detail-type": "Something Else"})
