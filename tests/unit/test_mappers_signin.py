"""Console sign-in variants: failures, root with and without MFA, IAM users without MFA, others."""

from __future__ import annotations

from typing import Any

import pytest

from handler.envelope import Envelope
from handler.mappers import map_event
from handler.severity import Severity

pytestmark = pytest.mark.unit

IAM_USER = {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/dana", "userName": "dana"}
ROOT = {"type": "Root", "arn": "arn:aws:iam::111122223333:root"}
SSO_ROLE = {
    "type": "AssumedRole",
    "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b/dana@example.com",
}


def signin(
    identity: dict[str, Any], name: str = "ConsoleLogin", outcome: str = "Success", mfa: str | None = None
) -> Envelope:
    detail: dict[str, Any] = {
        "eventSource": "signin.amazonaws.com",
        "eventName": name,
        "userIdentity": identity,
        "responseElements": {name: outcome},
    }
    if mfa is not None:
        detail["additionalEventData"] = {"MFAUsed": mfa}
    return Envelope(source="aws.signin", detail_type="AWS Console Sign In via CloudTrail", detail=detail)


@pytest.mark.parametrize(
    ("event", "severity", "summary"),
    [
        (
            signin(IAM_USER, outcome="Failure", mfa="No"),
            Severity.MAJOR,
            "Console sign-in failed for IAM user dana",
        ),
        (signin(ROOT, outcome="Failure", mfa="No"), Severity.MAJOR, "Console sign-in failed for root"),
        (signin(ROOT, mfa="No"), Severity.CRITICAL, "Console sign-in by root without MFA"),
        (signin(ROOT, mfa="Yes"), Severity.MAJOR, "Console sign-in by root"),
        (signin(ROOT, mfa="YES"), Severity.MAJOR, "Console sign-in by root"),
        (signin(IAM_USER, mfa="No"), Severity.WARNING, "Console sign-in by IAM user dana without MFA"),
        (signin(IAM_USER, mfa="Yes"), Severity.INDETERMINATE, "Console sign-in by IAM user dana"),
        # MFA of federated sign-ins happens at the identity provider: MFAUsed "No" is normal there.
        (
            signin(SSO_ROLE, mfa="No"),
            Severity.INDETERMINATE,
            "Console sign-in by role AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b/dana@example.com",
        ),
        (signin(IAM_USER, "CheckMfa", "Failure"), Severity.MAJOR, "MFA check failed for IAM user dana"),
        (signin(IAM_USER, "CheckMfa", "Success"), Severity.INDETERMINATE, "MFA check for IAM user dana"),
        (signin(IAM_USER, "PasswordUpdated"), Severity.WARNING, "Console password changed for IAM user dana"),
        (signin(ROOT, "PasswordUpdated"), Severity.MAJOR, "Console password changed for root"),
        (signin(IAM_USER, "GetSigninToken"), Severity.INDETERMINATE, "GetSigninToken by IAM user dana"),
        (
            signin(IAM_USER, "GetSigninToken", "Failure"),
            Severity.MINOR,
            "GetSigninToken failed for IAM user dana",
        ),
    ],
)
def test_signin_variant(event: Envelope, severity: Severity, summary: str) -> None:
    (alert,) = map_event(event).alerts

    assert (alert.severity, alert.summary, alert.tag) == (severity, summary, "ConsoleSignIn")


def test_an_error_message_without_a_stated_outcome_counts_as_a_failure() -> None:
    event = signin(IAM_USER, outcome="")
    detail = dict(event.detail, errorMessage="Failed authentication")

    (alert,) = map_event(Envelope(event.source, event.detail_type, detail)).alerts

    assert alert.severity is Severity.MAJOR


def test_node_resource_is_the_principal() -> None:
    (alert,) = map_event(signin(IAM_USER, mfa="Yes")).alerts

    assert (alert.resource, alert.resource_arn) == ("dana", "arn:aws:iam::111122223333:user/dana")


def test_console_login_recorded_as_an_api_call_reads_as_a_sign_in() -> None:
    # GIVEN a flattened record under the API-call detail-type (some tools store them so)
    event = signin(IAM_USER, outcome="Failure")
    as_api_call = Envelope("aws.signin", "AWS API Call via CloudTrail", event.detail)

    (alert,) = map_event(as_api_call).alerts

    assert (alert.tag, alert.severity) == ("ConsoleSignIn", Severity.MAJOR)
