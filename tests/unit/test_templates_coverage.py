"""The central stack's coverage resources: the table, the watchdog's schedule, permissions and environment,
the forwarder's one heartbeat permission, and the alarm for what Panther cannot carry (a refused token)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from handler import constants
from handler.config import load_watchdog_settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded, errors = decode_str((ROOT / "central" / "template.yaml").read_text())
    assert not errors, errors
    return loaded


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return template["Resources"][name]["Properties"]


def grants(policy: dict[str, Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for statement in policy["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        for action in actions:
            found.setdefault(action, []).append(statement["Resource"])
    return found


def test_coverage_table_is_keyed_on_pk_with_ttl(template: dict[str, Any]) -> None:
    table = props(template, "CoverageTable")
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"


def test_the_forwarder_may_only_update_the_coverage_table(template: dict[str, Any]) -> None:
    policy = props(template, "CoverageRecordPolicy")
    assert policy["Roles"] == [{"Ref": "FunctionRole"}]
    assert grants(policy) == {"dynamodb:UpdateItem": [{"Fn::GetAtt": ["CoverageTable", "Arn"]}]}
    env = props(template, "Function")["Environment"]["Variables"]
    assert env[constants.COVERAGE_TABLE] == {"Ref": "CoverageTable"}


def test_the_watchdog_rule_runs_the_watchdog_task_with_a_dead_letter_queue(template: dict[str, Any]) -> None:
    rule = props(template, "WatchdogRule")
    assert rule["ScheduleExpression"] == {"Fn::Sub": "rate(${WatchdogMinutes} minutes)"}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ScheduledFunction", "Arn"]}
    assert json.loads(target["Input"]) == {"task": "watchdog"}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["WatchdogDeadLetterQueue", "Arn"]}
    permission = props(template, "WatchdogPermission")
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["WatchdogRule", "Arn"]}
    # "rate(1 minutes)" would be refused: the choices avoid the singular.
    assert "1" not in template["Parameters"]["WatchdogMinutes"]["AllowedValues"]


def test_the_watchdog_policy_is_what_it_needs_and_no_more(template: dict[str, Any]) -> None:
    policy = props(template, "WatchdogPolicy")
    assert policy["Roles"] == [{"Ref": "ScheduledFunctionRole"}]
    table = {"Fn::GetAtt": ["CoverageTable", "Arn"]}
    assert grants(policy) == {
        "dynamodb:Scan": [table],
        "dynamodb:UpdateItem": [table],
        "dynamodb:DeleteItem": [table],
        # Its alerts take the forwarder's path: the bus, never Panther (no token access).
        "events:PutEvents": [{"Fn::GetAtt": ["Bus", "Arn"]}],
        "sqs:GetQueueAttributes": [
            [{"Fn::GetAtt": ["BufferDeadLetterQueue", "Arn"]}, {"Fn::GetAtt": ["RuleDeadLetterQueue", "Arn"]}]
        ],
        "sts:AssumeRole": [
            {"Fn::Sub": "arn:${AWS::Partition}:iam::${ManagementAccountId}:role/${LookupRoleName}"}
        ],
    }


def test_the_scheduled_function_has_the_watchdog_environment(template: dict[str, Any]) -> None:
    env = props(template, "ScheduledFunction")["Environment"]["Variables"]
    watchdog = set(constants.WATCHDOG_VARIABLES) - {constants.ORG_LOOKUP_ROLE_ARN}
    assert watchdog <= set(env)
    # The values the template would give, resolved by hand, are accepted by the watchdog's settings.
    settings = load_watchdog_settings(
        {
            constants.COVERAGE_TABLE: "central-CoverageTable-X",
            constants.EVENT_BUS_ARN: "arn:aws:events:eu-west-1:444455556666:event-bus/events2panther",
            constants.COVERAGE_UNITS: "ou-ab12-11111111,ou-ab12-22222222",
            constants.COVERAGE_REGIONS: "us-east-1,eu-west-1",
            constants.MANAGEMENT_ACCOUNT_ID: "111122223333",
            constants.MANAGEMENT_REGIONS: "",
            constants.STACKSET_NAME: "events2panther-member",
            constants.HEARTBEAT_MINUTES: "15",
            constants.MISSED_HEARTBEATS: "3",
            constants.WATCHED_QUEUE_URLS: "https://sqs.eu-west-1.amazonaws.com/444455556666/a,"
            "https://sqs.eu-west-1.amazonaws.com/444455556666/b",
            constants.READ_ENABLED_REGIONS: "true",
        }
    )
    assert settings.silence_minutes == 45
    assert settings.regions == ("us-east-1", "eu-west-1")
    assert settings.management_regions == ()


def test_a_refused_token_is_a_cloudwatch_alarm(template: dict[str, Any]) -> None:
    alarm = props(template, "PantherAuthFailuresAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("Events2Panther", "PantherAuthFailures")
    # Powertools publishes the metric with the service dimension of the forwarder.
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "events2panther"}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
