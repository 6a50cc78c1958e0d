"""State families: a clear (severity 0) carries the summary of the alert it clears, on the same node.

Panther pairs nothing itself; console rules can only clear an alert when node and summary match.
"""

from __future__ import annotations

from typing import Any

import pytest

from handler.alert import Alert, MapStatus
from handler.envelope import Envelope
from handler.mappers import map_event
from handler.severity import Severity

pytestmark = pytest.mark.unit


def one(source: str, detail_type: str, detail: dict[str, Any], resources: tuple[str, ...] = ()) -> Alert:
    result = map_event(Envelope(source, detail_type, detail, account="111122223333", resources=resources))
    assert result.status is MapStatus.MAPPED
    (alert,) = result.alerts
    return alert


def ec2(state: str) -> Alert:
    return one("aws.ec2", "EC2 Instance State-change Notification", {"instance-id": "i-0abc", "state": state})


def alarm(value: str) -> Alert:
    return one(
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
        {
            "alarmName": "api-5xx",
            "state": {"value": value, "reason": "Threshold Crossed: 1 datapoint [9.0 (01/01/25)]"},
        },
    )


def config_rule(new: str, old: str = "NON_COMPLIANT") -> Alert:
    detail = {
        "configRuleName": "s3-bucket-versioning-enabled",
        "resourceType": "AWS::S3::Bucket",
        "resourceId": "exports",
        "newEvaluationResult": {"complianceType": new},
        "oldEvaluationResult": {"complianceType": old},
    }
    return one("aws.config", "Config Rules Compliance Change", detail)


def backup(state: str, message: str = "") -> Alert:
    detail = {
        "state": state,
        "resourceArn": "arn:aws:ec2:eu-west-1:111122223333:volume/vol-0abc",
        "backupJobId": state,
    }
    if message:
        detail["statusMessage"] = message
    return one("aws.backup", "Backup Job State Change", detail)


def pipeline(state: str) -> Alert:
    return one(
        "aws.codepipeline",
        "CodePipeline Pipeline Execution State Change",
        {"pipeline": "web", "state": state},
    )


@pytest.mark.parametrize(
    ("raised", "cleared", "severity"),
    [
        (ec2("stopped"), ec2("running"), Severity.WARNING),
        (ec2("terminated"), ec2("running"), Severity.WARNING),
        (alarm("ALARM"), alarm("OK"), Severity.MINOR),
        (config_rule("NON_COMPLIANT", "COMPLIANT"), config_rule("COMPLIANT"), Severity.MINOR),
        (config_rule("NON_COMPLIANT", "COMPLIANT"), config_rule("NOT_APPLICABLE"), Severity.MINOR),
        (backup("FAILED"), backup("COMPLETED"), Severity.MAJOR),
        (backup("EXPIRED"), backup("COMPLETED"), Severity.MINOR),
        (pipeline("FAILED"), pipeline("SUCCEEDED"), Severity.MINOR),
    ],
    ids=[
        "ec2-stop",
        "ec2-terminate",
        "alarm",
        "config",
        "config-not-applicable",
        "backup",
        "backup-expired",
        "pipeline",
    ],
)
def test_clear_carries_the_summary_and_node_of_the_raised_alert(
    raised: Alert, cleared: Alert, severity: Severity
) -> None:
    assert raised.severity is severity
    assert cleared.severity is Severity.CLEAR
    assert (cleared.summary, cleared.resource) == (raised.summary, raised.resource)


def test_alarm_reason_with_numbers_and_dates_stays_out_of_the_summary() -> None:
    alert = alarm("ALARM")

    assert alert.summary == "CloudWatch alarm api-5xx in ALARM"
    assert alert.fields["state_reason"].startswith("Threshold Crossed")


def test_intermediate_states_are_indeterminate_with_their_own_summary() -> None:
    assert (ec2("pending").severity, ec2("pending").summary) == (
        Severity.INDETERMINATE,
        "EC2 instance i-0abc is starting",
    )
    assert alarm("INSUFFICIENT_DATA").summary == "CloudWatch alarm api-5xx has insufficient data"
    assert backup("RUNNING").severity is Severity.INDETERMINATE
    assert backup("RUNNING").summary != backup("FAILED").summary


def test_backup_completed_with_issues_is_a_warning_not_a_clear() -> None:
    alert = backup("COMPLETED", message="Windows VSS backup attempt failed")

    assert alert.severity is Severity.WARNING
    assert alert.summary.endswith("completed with issues")


def test_config_not_applicable_without_a_previous_failure_is_filtered() -> None:
    detail = {
        "configRuleName": "r",
        "resourceType": "AWS::S3::Bucket",
        "resourceId": "b",
        "newEvaluationResult": {"complianceType": "NOT_APPLICABLE"},
        "oldEvaluationResult": {"complianceType": "COMPLIANT"},
    }

    result = map_event(Envelope("aws.config", "Config Rules Compliance Change", detail))

    assert result.status is MapStatus.FILTERED
    assert result.reason


def test_config_item_change_reads_a_null_diff() -> None:
    detail = {
        "configurationItemDiff": None,
        "configurationItem": {
            "resourceType": "AWS::S3::Bucket",
            "resourceId": "b",
            "configurationItemStatus": "OK",
        },
    }

    alert = one("aws.config", "Config Configuration Item Change", detail)

    assert (alert.summary, alert.severity) == (
        "AWS Config: AWS::S3::Bucket b changed",
        Severity.INDETERMINATE,
    )


@pytest.mark.parametrize(
    ("stop", "exit_codes", "severity", "summary"),
    [
        (
            "EssentialContainerExited",
            [1],
            Severity.MINOR,
            "ECS task of api stopped unexpectedly (EssentialContainerExited)",
        ),
        ("TaskFailedToStart", [], Severity.MINOR, "ECS task of api stopped unexpectedly (TaskFailedToStart)"),
        (
            "ServiceSchedulerInitiated",
            [0],
            Severity.INDETERMINATE,
            "ECS task of api stopped (ServiceSchedulerInitiated)",
        ),
        ("UserInitiated", [137], Severity.MINOR, "ECS task of api stopped unexpectedly (UserInitiated)"),
        ("SpotInterruption", [143], Severity.WARNING, "ECS task of api stopped (SpotInterruption)"),
    ],
)
def test_ecs_task_stops(stop: str, exit_codes: list[int], severity: Severity, summary: str) -> None:
    detail = {
        "group": "service:api",
        "lastStatus": "STOPPED",
        "stopCode": stop,
        "taskArn": "arn:aws:ecs:eu-west-1:111122223333:task/prod/0f1e2d3c",
        "containers": [{"name": "app", "exitCode": code} for code in exit_codes],
    }

    alert = one("aws.ecs", "ECS Task State Change", detail)

    assert (alert.severity, alert.summary, alert.resource) == (severity, summary, "api")


@pytest.mark.parametrize(
    ("state", "severity"),
    [
        ("FAILED", Severity.MINOR),
        ("TIMED_OUT", Severity.MINOR),
        ("SUCCEEDED", Severity.INDETERMINATE),
        ("WARN", Severity.WARNING),
    ],
)
def test_generic_mapping_reads_failure_and_warning_words(state: str, severity: Severity) -> None:
    # A source no hand-written mapper nor built-in entry knows (Glue, used here before, is now a built-in
    # declarative family), shaped like a job state change.
    detail = {"jobName": "nightly", "state": state}
    result = map_event(Envelope("com.example.etl", "Job State Change", detail))

    assert result.status is MapStatus.GENERIC
    (alert,) = result.alerts
    assert (alert.severity, alert.summary, alert.resource) == (
        severity,
        f"com.example.etl: Job State Change: {state}",
        "nightly",
    )


def test_generic_mapping_keeps_volatile_words_out_of_the_summary() -> None:
    detail = {
        "status": "2025-01-01T10:00:00Z",
        "state": "7f9e2c1a-1b2c-4d5e-8f90-a1b2c3d4e5f6",
        "result": "Done",
    }

    (alert,) = map_event(Envelope("custom.app", "Thing Happened", detail)).alerts

    assert alert.summary == "custom.app: Thing Happened: Done"
    assert alert.tag == "Thing Happened"
