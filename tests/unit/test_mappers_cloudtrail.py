"""CloudTrail API calls: error codes, sensitive calls, root, principals, targets, the feedback-loop filter."""

from __future__ import annotations

from typing import Any

import pytest

from handler.alert import Alert, MapStatus
from handler.envelope import Envelope
from handler.mappers import map_event
from handler.severity import Severity

pytestmark = pytest.mark.unit

ROLE = {
    "type": "AssumedRole",
    "arn": "arn:aws:sts::111122223333:assumed-role/Deployer/alice",
    "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "Deployer"}},
}


def call(
    name: str,
    service: str = "ec2",
    *,
    identity: dict[str, Any] | None = None,
    request: Any = None,
    **detail: Any,
) -> Envelope:
    record: dict[str, Any] = {
        "eventSource": f"{service}.amazonaws.com",
        "eventName": name,
        "userIdentity": ROLE if identity is None else identity,
        "requestParameters": request,
        "eventID": "0a1b2c3d-1111-2222-3333-444455556666",
        "awsRegion": "eu-west-1",
    }
    record.update(detail)
    return Envelope(
        source=f"aws.{service}", detail_type="AWS API Call via CloudTrail", detail=record, region="eu-west-1"
    )


def only(envelope: Envelope) -> Alert:
    result = map_event(envelope)
    assert result.status is MapStatus.MAPPED
    (alert,) = result.alerts
    return alert


@pytest.mark.parametrize(
    ("code", "expected", "suffix"),
    [
        ("AccessDenied", Severity.MAJOR, ", denied (AccessDenied)"),
        ("AccessDeniedException", Severity.MAJOR, ", denied (AccessDeniedException)"),
        ("UnauthorizedOperation", Severity.MAJOR, ", denied (UnauthorizedOperation)"),
        ("Client.UnauthorizedOperation", Severity.MAJOR, ", denied (Client.UnauthorizedOperation)"),
        ("VpceAccessDenied", Severity.MAJOR, ", denied (VpceAccessDenied)"),
        ("ThrottlingException", Severity.MINOR, ", failed (ThrottlingException)"),
        ("Client.InvalidInstanceID.NotFound", Severity.MINOR, ", failed (Client.InvalidInstanceID.NotFound)"),
        # A dry run that would have succeeded is reported with this code: not an error.
        ("Client.DryRunOperation", Severity.INDETERMINATE, ""),
    ],
)
def test_error_codes_raise_the_severity(code: str, expected: Severity, suffix: str) -> None:
    alert = only(
        call("StopInstances", request={"instancesSet": {"items": [{"instanceId": "i-0abc"}]}}, errorCode=code)
    )

    assert alert.severity is expected
    assert alert.summary == f"role Deployer/alice called ec2:StopInstances on i-0abc{suffix}"


@pytest.mark.parametrize(
    ("name", "service", "parameters", "expected"),
    [
        ("DescribeInstances", "ec2", None, Severity.INDETERMINATE),
        ("StopLogging", "cloudtrail", {"name": "org-trail"}, Severity.MAJOR),
        ("DeleteTrail", "cloudtrail", {"name": "org-trail"}, Severity.MAJOR),
        ("DeleteDetector", "guardduty", {"detectorId": "d1"}, Severity.MAJOR),
        ("CreateAccessKey", "iam", {"userName": "ci"}, Severity.WARNING),
        ("AttachRolePolicy", "iam", {"roleName": "app"}, Severity.WARNING),
        ("PutBucketPolicy", "s3", {"bucketName": "exports"}, Severity.WARNING),
        ("ScheduleKeyDeletion", "kms", {"keyId": "alias/payments"}, Severity.WARNING),
    ],
)
def test_sensitive_calls_are_raised_even_when_they_succeed(
    name: str, service: str, parameters: dict[str, Any] | None, expected: Severity
) -> None:
    assert only(call(name, service, request=parameters)).severity is expected


def test_ingress_open_to_the_world_is_major_and_says_so() -> None:
    request = {
        "groupId": "sg-0abc",
        "ipPermissions": {"items": [{"ipProtocol": "tcp", "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]},
    }

    alert = only(call("AuthorizeSecurityGroupIngress", request=request))

    assert alert.severity is Severity.MAJOR
    assert (
        alert.summary
        == "role Deployer/alice called ec2:AuthorizeSecurityGroupIngress on sg-0abc from 0.0.0.0/0"
    )


def test_ingress_from_a_private_range_is_only_a_warning() -> None:
    request = {
        "groupId": "sg-0abc",
        "ipPermissions": {"items": [{"ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}}]},
    }

    assert only(call("AuthorizeSecurityGroupIngress", request=request)).severity is Severity.WARNING


@pytest.mark.parametrize(
    ("name", "read_only", "expected"),
    [
        ("CreateBucket", False, Severity.MAJOR),
        ("ListBuckets", True, Severity.WARNING),
        ("ListBuckets", None, Severity.WARNING),
    ],
)
def test_root_activity_is_never_routine(name: str, read_only: bool | None, expected: Severity) -> None:
    root = {"type": "Root", "arn": "arn:aws:iam::111122223333:root"}

    alert = only(call(name, "s3", identity=root, readOnly=read_only))

    assert alert.severity is expected
    assert alert.summary.startswith("root called s3:")


@pytest.mark.parametrize(
    ("identity", "label"),
    [
        ({"type": "IAMUser", "userName": "ci-bot"}, "IAM user ci-bot"),
        (ROLE, "role Deployer/alice"),
        # Generated session names (SDK timestamps, numeric ids, UUIDs) would make every summary unique.
        (
            {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::1:assumed-role/Deployer/botocore-session-1717171717",
            },
            "role Deployer",
        ),
        (
            {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/Deployer/1641313043312360000"},
            "role Deployer",
        ),
        (
            {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::1:assumed-role/Deployer/7f9e2c1a-1b2c-4d5e-8f90-a1b2c3d4e5f6",
            },
            "role Deployer",
        ),
        ({"type": "AWSService", "invokedBy": "config.amazonaws.com"}, "AWS service config.amazonaws.com"),
        ({"type": "AWSAccount", "accountId": "444455556666", "principalId": "AID:x"}, "account 444455556666"),
        ({"type": "FederatedUser", "arn": "arn:aws:sts::1:federated-user/bob"}, "federated user bob"),
        ({}, "unknown principal"),
    ],
)
def test_principal_labels(identity: dict[str, Any], label: str) -> None:
    alert = only(call("DescribeInstances", identity=identity))

    assert alert.summary == f"{label} called ec2:DescribeInstances"


def test_target_from_a_json_encoded_request_and_lambda_api_version_suffix() -> None:
    # GIVEN a flattened record (requestParameters as a JSON string) and Lambda's versioned event name
    request = '{"functionName": "arn:aws:lambda:eu-west-1:111122223333:function:billing:PROD"}'

    alert = only(call("UpdateFunctionCode20150331v2", "lambda", request=request))

    assert alert.summary == "role Deployer/alice called lambda:UpdateFunctionCode on billing"
    assert alert.resource == "billing"
    assert alert.resource_arn == "arn:aws:lambda:eu-west-1:111122223333:function:billing:PROD"
    assert alert.fields["event_name"] == "UpdateFunctionCode20150331v2"


def test_a_uuid_key_id_stays_out_of_the_summary_but_names_the_node() -> None:
    key = "1234abcd-12ab-34cd-56ef-1234567890ab"

    alert = only(call("DisableKey", "kms", request={"keyId": key}))

    assert alert.summary == "role Deployer/alice called kms:DisableKey"
    assert alert.resource == key


def test_console_url_points_at_the_cloudtrail_event() -> None:
    alert = only(call("DescribeInstances"))

    assert alert.fields["console_url"] == (
        "https://console.aws.amazon.com/cloudtrail/home?region=eu-west-1#/events/0a1b2c3d-1111-2222-3333-444455556666"
    )


# The forwarder's principals: every role it uses is named events2panther-...
FUNCTION_ROLE = {
    "type": "AssumedRole",
    "arn": "arn:aws:sts::111122223333:assumed-role/events2panther-central-FunctionRole-AB12/fn",
    "sessionContext": {
        "sessionIssuer": {"type": "Role", "userName": "events2panther-central-FunctionRole-AB12"}
    },
}
LOOKUP_ROLE = {
    "type": "AssumedRole",
    "arn": "arn:aws:sts::999988887777:assumed-role/events2panther-org-lookup/events2panther-lookup",
}
# A cross-account caller: CloudTrail records its account and principal id, no ARN.
CROSS_ACCOUNT = {"type": "AWSAccount", "accountId": "111122223333", "principalId": "AROAEXAMPLE:fn"}
HUMAN = {
    "type": "AssumedRole",
    "arn": "arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_Admin_0123/alice",
    "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "AWSReservedSSO_Admin_0123"}},
}


@pytest.mark.parametrize(
    ("name", "service", "identity", "parameters"),
    [
        ("GetSecretValue", "secretsmanager", FUNCTION_ROLE, None),
        ("Decrypt", "kms", FUNCTION_ROLE, None),
        ("ListAccounts", "organizations", LOOKUP_ROLE, None),
        ("DescribeAccount", "organizations", LOOKUP_ROLE, None),
        (
            "AssumeRole",
            "sts",
            CROSS_ACCOUNT,
            {"roleArn": "arn:aws:iam::999988887777:role/events2panther-org-lookup", "roleSessionName": "x"},
        ),
    ],
)
def test_the_forwarders_own_calls_are_filtered_by_who_made_them(
    name: str, service: str, identity: dict[str, Any], parameters: Any
) -> None:
    result = map_event(call(name, service, identity=identity, request=parameters))

    assert result.status is MapStatus.FILTERED
    assert "feedback-loop" in result.reason
    assert f"{service}:{name}" in result.reason


@pytest.mark.parametrize(
    ("name", "service", "identity", "parameters", "detail"),
    [
        # The same calls by anyone else are forwarded: a human reading the secret...
        ("GetSecretValue", "secretsmanager", HUMAN, None, {}),
        ("ListAccounts", "organizations", HUMAN, None, {}),
        # ... another account assuming one of ours (not a forwarder role)...
        ("AssumeRole", "sts", CROSS_ACCOUNT, {"roleArn": "arn:aws:iam::999988887777:role/Admin"}, {}),
        # ... and a refused attempt at the forwarder's role (its trust admits only the forwarder).
        (
            "AssumeRole",
            "sts",
            CROSS_ACCOUNT,
            {"roleArn": "arn:aws:iam::999988887777:role/events2panther-org-lookup"},
            {"errorCode": "AccessDenied"},
        ),
        ("Decrypt", "kms", ROLE, None, {}),
    ],
)
def test_the_same_calls_by_others_are_forwarded(
    name: str, service: str, identity: dict[str, Any], parameters: Any, detail: dict[str, Any]
) -> None:
    assert (
        map_event(call(name, service, identity=identity, request=parameters, **detail)).status
        is MapStatus.MAPPED
    )


def test_service_event_with_a_failed_state_is_minor() -> None:
    details = {"jobArn": "arn:aws:s3:us-east-1:111122223333:job/j-1", "status": "Failed"}
    envelope = Envelope(
        "aws.s3",
        "AWS Service Event via CloudTrail",
        {"eventSource": "s3.amazonaws.com", "eventName": "JobStatusChanged", "serviceEventDetails": details},
    )

    (alert,) = map_event(envelope).alerts

    assert (alert.severity, alert.summary) == (
        Severity.MINOR,
        "s3 service event JobStatusChanged on j-1: Failed",
    )
