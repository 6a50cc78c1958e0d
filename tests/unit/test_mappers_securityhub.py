"""Security Hub: one alert per finding, label table, Normalized fallback, and the clear conditions."""

from __future__ import annotations

from typing import Any

import pytest

from handler.alert import MapStatus
from handler.envelope import Envelope
from handler.mappers import map_event
from handler.severity import Severity

pytestmark = pytest.mark.unit

FINDING_ID = "arn:aws:securityhub:us-east-1:111122223333:subscription/x/v/1.0.0/S3.8/finding/abc"


def finding(**overrides: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "Id": FINDING_ID,
        "AwsAccountId": "111122223333",
        "Title": "S3.8 S3 general purpose buckets should block public access",
        "Severity": {"Label": "HIGH", "Normalized": 70},
        "Resources": [{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::payments-exports"}],
        "Compliance": {"Status": "FAILED", "SecurityControlId": "S3.8"},
        "Workflow": {"Status": "NEW"},
        "RecordState": "ACTIVE",
    }
    found.update(overrides)
    return found


def envelope(*findings: dict[str, Any]) -> Envelope:
    return Envelope(
        source="aws.securityhub",
        detail_type="Security Hub Findings - Imported",
        detail={"findings": list(findings)},
        account="111122223333",
    )


def only_alert(found: dict[str, Any]) -> Any:
    result = map_event(envelope(found))
    assert result.status is MapStatus.MAPPED
    assert len(result.alerts) == 1
    return result.alerts[0]


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("INFORMATIONAL", Severity.INDETERMINATE),
        ("LOW", Severity.WARNING),
        ("MEDIUM", Severity.MINOR),
        ("HIGH", Severity.MAJOR),
        ("CRITICAL", Severity.CRITICAL),
    ],
)
def test_label_maps_to_the_documented_severity(label: str, expected: Severity) -> None:
    assert only_alert(finding(Severity={"Label": label})).severity is expected


@pytest.mark.parametrize(
    ("normalized", "expected"),
    [
        (0, Severity.INDETERMINATE),
        (1, Severity.WARNING),
        (39, Severity.WARNING),
        (40, Severity.MINOR),
        (69, Severity.MINOR),
        (70, Severity.MAJOR),
        (89, Severity.MAJOR),
        (90, Severity.CRITICAL),
        (100, Severity.CRITICAL),
    ],
)
def test_normalized_is_read_with_security_hubs_ranges_when_the_label_is_missing(
    normalized: int, expected: Severity
) -> None:
    assert only_alert(finding(Severity={"Normalized": normalized})).severity is expected


@pytest.mark.parametrize(
    "over",
    [
        {"Workflow": {"Status": "RESOLVED"}},
        {"Workflow": {"Status": "SUPPRESSED"}},
        {"Workflow": None, "WorkflowState": "RESOLVED"},
        {"RecordState": "ARCHIVED"},
        # The Status field decides, not the whole Compliance object (the original Lambda's bug).
        {"Compliance": {"Status": "PASSED", "SecurityControlId": "S3.8", "RelatedRequirements": ["x"]}},
    ],
    ids=[
        "workflow-resolved",
        "workflow-suppressed",
        "legacy-workflow-state",
        "archived",
        "compliance-passed",
    ],
)
def test_finished_findings_clear_with_the_summary_of_the_raised_one(over: dict[str, Any]) -> None:
    raised = only_alert(finding())
    cleared = only_alert(finding(**over))

    assert raised.severity is Severity.MAJOR
    assert cleared.severity is Severity.CLEAR
    assert cleared.summary == raised.summary
    assert cleared.identifier == f"{FINDING_ID}:0"


@pytest.mark.parametrize(
    "over",
    [
        {"Compliance": {"Status": "FAILED"}},
        {"Compliance": {"Status": "WARNING"}},
        {"Compliance": {"Status": "NOT_AVAILABLE"}},
        {"Workflow": {"Status": "NOTIFIED"}},
        {"Compliance": "PASSED"},  # not an object: no Status field to read
    ],
)
def test_open_findings_are_not_cleared(over: dict[str, Any]) -> None:
    assert only_alert(finding(**over)).severity is Severity.MAJOR


def test_summary_is_title_and_short_resource_and_external_id_is_the_finding_id() -> None:
    alert = only_alert(finding())

    assert alert.summary == "S3.8 S3 general purpose buckets should block public access: payments-exports"
    assert alert.resource == "payments-exports"
    assert alert.resource_arn == "arn:aws:s3:::payments-exports"
    assert alert.external_id == FINDING_ID
    assert alert.identifier == f"{FINDING_ID}:4"


def test_each_finding_of_an_event_gives_its_own_alert() -> None:
    second = finding(Id="other", Title="EC2.19 Security groups should not allow unrestricted access")

    result = map_event(envelope(finding(), second))

    assert [a.identifier for a in result.alerts] == [f"{FINDING_ID}:4", "other:4"]


def test_an_event_without_findings_is_filtered_with_a_reason() -> None:
    result = map_event(envelope())

    assert result.status is MapStatus.FILTERED
    assert result.reason
