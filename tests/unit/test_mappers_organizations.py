"""Organizations: API call severities and `changes_account_directory`, the account-cache refresh signal."""

from __future__ import annotations

from typing import Any

import pytest

from handler.envelope import Envelope
from handler.mappers import map_event
from handler.mappers.organizations import changes_account_directory
from handler.severity import Severity

pytestmark = pytest.mark.unit

API_CALL = "AWS API Call via CloudTrail"
SERVICE_EVENT = "AWS Service Event via CloudTrail"
ADMIN = {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/OrgAdmin/ops"}


def org_event(
    name: str, detail_type: str = API_CALL, source: str = "aws.organizations", **detail: Any
) -> Envelope:
    event_source = detail.pop("eventSource", source.removeprefix("aws.") + ".amazonaws.com")
    record: dict[str, Any] = {"eventSource": event_source, "eventName": name, "userIdentity": ADMIN, **detail}
    return Envelope(source=source, detail_type=detail_type, detail=record, region="us-east-1")


@pytest.mark.parametrize(
    "envelope",
    [
        org_event(
            "CreateAccountResult",
            SERVICE_EVENT,
            serviceEventDetails={"createAccountStatus": {"state": "SUCCEEDED"}},
        ),
        org_event("MoveAccount", readOnly=False, requestParameters={"accountId": "444455556666"}),
        org_event("TagResource", readOnly=False, requestParameters={"resourceId": "444455556666"}),
        org_event("UntagResource", readOnly=False),
        org_event("CloseAccount", readOnly=False),
        org_event("RemoveAccountFromOrganization", readOnly=False),
        org_event("AcceptHandshake", readOnly=False),
        org_event("UpdateOrganizationalUnit", readOnly=False),
        org_event("PutAccountName", source="aws.account", readOnly=False),
        org_event("CreateAccountAlias", source="aws.iam", readOnly=False),
        org_event(
            "CreateManagedAccount",
            SERVICE_EVENT,
            source="aws.controltower",
            serviceEventDetails={"createManagedAccountStatus": {"state": "SUCCEEDED"}},
        ),
    ],
    ids=lambda e: f"{e.source}:{e.detail.get('eventName')}",
)
def test_events_that_change_accounts_refresh_the_directory(envelope: Envelope) -> None:
    assert changes_account_directory(envelope) is True


@pytest.mark.parametrize(
    "envelope",
    [
        # The directory's own calls: counting them would make every listing trigger another listing.
        org_event("ListAccounts", readOnly=True),
        org_event("DescribeAccount", readOnly=True),
        org_event("ListTagsForResource", readOnly=True),
        # A failed change changed nothing.
        org_event("MoveAccount", readOnly=False, errorCode="AccessDenied"),
        # Writes that do not touch accounts, and other services.
        org_event("CreatePolicy", readOnly=False),
        org_event("CreateAccount", readOnly=False),  # asynchronous: the account exists at CreateAccountResult
        org_event("PutBucketPolicy", source="aws.s3", readOnly=False),
        org_event(
            "CreateManagedAccount",
            SERVICE_EVENT,
            source="aws.controltower",
            serviceEventDetails={"createManagedAccountStatus": {"state": "FAILED"}},
        ),
        Envelope("aws.guardduty", "GuardDuty Finding", {"eventName": "MoveAccount"}),
    ],
    ids=lambda e: f"{e.source}:{e.detail.get('eventName')}:{e.detail.get('errorCode', '')}",
)
def test_other_events_leave_the_directory_alone(envelope: Envelope) -> None:
    assert changes_account_directory(envelope) is False


@pytest.mark.parametrize(
    "detail",
    [
        {},
        {"eventName": ["MoveAccount"], "readOnly": "yes", "errorCode": None},
        {"eventName": "MoveAccount", "userIdentity": "root", "serviceEventDetails": [1, 2]},
        {"eventName": "CreateManagedAccount", "serviceEventDetails": "not json {"},
    ],
)
def test_odd_shapes_never_raise(detail: dict[str, Any]) -> None:
    for source in ("aws.organizations", "aws.controltower"):
        for detail_type in (API_CALL, SERVICE_EVENT):
            assert changes_account_directory(Envelope(source, detail_type, detail)) in {True, False}


def test_move_account_names_the_account_and_is_a_warning() -> None:
    envelope = org_event(
        "MoveAccount",
        readOnly=False,
        requestParameters={"accountId": "444455556666", "destinationParentId": "ou-ab12-quarantine"},
    )

    (alert,) = map_event(envelope).alerts

    assert alert.summary == "role OrgAdmin/ops called organizations:MoveAccount on account 444455556666"
    assert (alert.severity, alert.tag, alert.resource) == (Severity.WARNING, "Organizations", "444455556666")


def test_create_account_result_failure_is_minor_with_its_reason() -> None:
    status = {
        "accountId": "",
        "accountName": "sandbox-7",
        "state": "FAILED",
        "failureReason": "EMAIL_ALREADY_EXISTS",
    }
    envelope = org_event(
        "CreateAccountResult", SERVICE_EVENT, serviceEventDetails={"createAccountStatus": status}
    )

    (alert,) = map_event(envelope).alerts

    assert (
        alert.summary
        == "Organizations CreateAccountResult for account sandbox-7: FAILED (EMAIL_ALREADY_EXISTS)"
    )
    assert alert.severity is Severity.MINOR
