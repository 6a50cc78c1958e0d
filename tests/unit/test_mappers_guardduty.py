"""GuardDuty: the documented severity bands, archived findings, identifiers, the legacy list shape."""

from __future__ import annotations

from typing import Any

import pytest

from handler.alert import MapStatus
from handler.envelope import Envelope
from handler.mappers import map_event
from handler.severity import Severity

pytestmark = pytest.mark.unit

ARN = "arn:aws:guardduty:eu-west-1:111122223333:detector/d1/finding/f1"


def finding(**overrides: Any) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "schemaVersion": "2.0",
        "accountId": "111122223333",
        "region": "eu-west-1",
        "id": "f1",
        "arn": ARN,
        "type": "UnauthorizedAccess:EC2/SSHBruteForce",
        "title": "198.51.100.7 is performing SSH brute force attacks against i-0abc.",
        "severity": 5,
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0abc"}},
        "service": {"archived": False, "additionalInfo": {}},
    }
    detail.update(overrides)
    return detail


def envelope(detail: dict[str, Any]) -> Envelope:
    return Envelope(
        source="aws.guardduty", detail_type="GuardDuty Finding", detail=detail, account="111122223333"
    )


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.1, Severity.WARNING),  # older findings used 0.1-3.9 for Low
        (1.0, Severity.WARNING),
        (3.9, Severity.WARNING),
        (4.0, Severity.MINOR),
        (6.9, Severity.MINOR),
        (7.0, Severity.MAJOR),
        (8.9, Severity.MAJOR),
        (9.0, Severity.CRITICAL),
        (10.0, Severity.CRITICAL),
        ("7.5", Severity.MAJOR),  # a numeric string reads as its number
    ],
)
def test_severity_follows_the_documented_bands(score: float | str, expected: Severity) -> None:
    result = map_event(envelope(finding(severity=score)))

    assert result.status is MapStatus.MAPPED
    assert [a.severity for a in result.alerts] == [expected]


def test_a_finding_without_severity_is_indeterminate() -> None:
    detail = finding()
    del detail["severity"]

    assert map_event(envelope(detail)).alerts[0].severity is Severity.INDETERMINATE


def test_archived_finding_clears_with_the_same_summary_but_its_own_identifier() -> None:
    # GIVEN the same finding active, then archived
    active = map_event(envelope(finding(severity=8))).alerts[0]
    archived = map_event(envelope(finding(severity=8, service={"archived": True}))).alerts[0]

    # THEN the clear pairs by summary, and does not aggregate into the raised alert
    assert archived.severity is Severity.CLEAR
    assert archived.summary == active.summary
    assert active.identifier == f"{ARN}:4"
    assert archived.identifier == f"{ARN}:0"
    assert archived.external_id == ARN


def test_summary_is_the_title_without_a_duplicate_resource() -> None:
    alert = map_event(envelope(finding())).alerts[0]

    assert alert.summary == "198.51.100.7 is performing SSH brute force attacks against i-0abc"
    assert alert.resource == "i-0abc"


def test_a_finding_of_another_account_names_that_account() -> None:
    # GIVEN a member's finding seen in the delegated administrator account
    detail = finding(accountId="444455556666")

    alert = map_event(envelope(detail)).alerts[0]

    assert alert.summary.endswith(" in account 444455556666")
    assert alert.fields["finding_account_id"] == "444455556666"


def test_sample_findings_are_marked() -> None:
    detail = finding(service={"archived": False, "additionalInfo": {"sample": True}})

    alert = map_event(envelope(detail)).alerts[0]

    assert alert.summary.startswith("[SAMPLE] ")
    assert alert.fields["sample"] == "true"


def test_legacy_findings_list_gives_one_alert_per_finding() -> None:
    detail = {
        "findings": [finding(id="a", arn="arn-a", severity=2), finding(id="b", arn="arn-b", severity=9)]
    }

    result = map_event(envelope(detail))

    assert [(a.identifier, a.severity) for a in result.alerts] == [
        ("arn-a:2", Severity.WARNING),
        ("arn-b:5", Severity.CRITICAL),
    ]


@pytest.mark.parametrize("listed", [None, [], "not a list"])
def test_an_empty_or_broken_findings_key_still_gives_the_finding_mapping(listed: object) -> None:
    # Found by the property test: `findings: null` used to give no alert at all.
    result = map_event(envelope({"findings": listed}))

    assert result.status is MapStatus.MAPPED
    assert len(result.alerts) == 1
