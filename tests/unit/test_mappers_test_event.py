"""Test events (source events2panther.test) cannot be dressed up as something else, and a mapper's
failure is logged without the values of the event that tripped it."""

from __future__ import annotations

from typing import Any

import pytest

from handler.alert import Alert, MapStatus
from handler.envelope import Envelope
from handler.mappers import map_event
from handler.mappers.registry import map_envelope
from handler.severity import Severity

pytestmark = pytest.mark.unit

FORGED_DETAILS: list[dict[str, Any]] = [
    {
        "severity": 8.9,
        "title": "HIGH ROOT LOGIN FAILED",
        "type": "UnauthorizedAccess:IAMUser/RootCredentialUsage",
    },
    {"state": "FAILED", "status": "ERROR", "eventName": "ConsoleLogin", "jobName": "root"},
    {"test_id": "\\u202eNIGOL TOOR", "message": "x" * 5000},
    {},
]


@pytest.mark.parametrize(
    "detail_type", ["Events2Panther Test Event", "GuardDuty Finding", "AWS API Call via CloudTrail"]
)
@pytest.mark.parametrize("detail", FORGED_DETAILS)
def test_a_test_event_has_a_fixed_summary_and_severity(detail_type: str, detail: dict[str, Any]) -> None:
    envelope = Envelope(
        "events2panther.test", detail_type, detail, resources=("arn:aws:iam::111111111111:root",)
    )
    result = map_event(envelope)
    assert result.status is MapStatus.MAPPED
    (alert,) = result.alerts
    assert alert.summary == "Events2Panther test event"
    assert alert.severity is Severity.INDETERMINATE
    assert alert.tag == "Events2Panther Test Event"
    assert alert.resource == "" and alert.resource_arn == ""
    assert dict(alert.fields) == {}


def test_the_test_id_of_send_test_event_travels() -> None:
    test_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    (alert,) = map_event(
        Envelope("events2panther.test", "Events2Panther Test Event", {"test_id": test_id})
    ).alerts
    assert dict(alert.fields) == {"test_id": test_id}


def test_a_failing_mapper_is_logged_by_family_and_type_only() -> None:
    def guardduty(envelope: Envelope) -> list[Alert]:
        raise KeyError(f"no field in {envelope.detail['secret']}")

    def generic(envelope: Envelope) -> list[Alert]:
        return [Alert("generic", Severity.INDETERMINATE, "t")]

    envelope = Envelope("aws.example", "Example Finding", {"secret": "AKIAEXAMPLEVALUE"})
    result = map_envelope(envelope, generic, lambda _envelope: guardduty)
    assert result.status is MapStatus.GENERIC
    assert result.reason == "guardduty failed: KeyError"
    assert "AKIAEXAMPLEVALUE" not in result.reason
