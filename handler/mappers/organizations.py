"""AWS Organizations calls and service events, and the signal to refresh the account directory.

API calls read like any CloudTrail call ("<who> called organizations:MoveAccount on account
111122223333"); calls that change which accounts exist, where they sit or which policies govern them
are at least WARNING, the others INDETERMINATE (errors and root raise as for every call).
Service events (CreateAccountResult...): FAILED -> MINOR, otherwise INDETERMINATE.
Identifier: Panther's default (node:severity:summary).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.cloudtrail import API_CALL, SERVICE_EVENT, api_call_alert, service_event_state
from handler.mappers.cloudtrail_record import CloudTrailRecord, Target
from handler.mappers.feedback_loop import own_read_call
from handler.mappers.generic import says_failure
from handler.mappers.registry import mapper
from handler.mappers.stable_text import stable
from handler.severity import Severity

TAG: Final = "Organizations"
SOURCE: Final = "aws.organizations"
ORGANIZATIONS_SOURCE: Final = "organizations.amazonaws.com"
ACCOUNT_SOURCE: Final = "account.amazonaws.com"
IAM_SOURCE: Final = "iam.amazonaws.com"
CONTROL_TOWER_SOURCE: Final = "aws.controltower"
_ACCOUNT_ID = re.compile(r"^\d{12}$")

STRUCTURE_CHANGES: Final = frozenset(
    {
        "CloseAccount",
        "RemoveAccountFromOrganization",
        "LeaveOrganization",
        "DeleteOrganization",
        "MoveAccount",
        "AttachPolicy",
        "DetachPolicy",
        "DeletePolicy",
        "UpdatePolicy",
        "DisablePolicyType",
        "DisableAWSServiceAccess",
        "RegisterDelegatedAdministrator",
        "DeregisterDelegatedAdministrator",
        "DeleteOrganizationalUnit",
    }
)
# requestParameters naming what an Organizations call acts on, most specific first.
TARGET_KEYS: Final = (
    "accountId",
    "resourceId",
    "targetId",
    "policyId",
    "organizationalUnitId",
    "accountName",
    "name",
    "parentId",
)

# Events after which the cached names, OU paths, tags or aliases of accounts are stale.
# Only successful writes: the directory's own List*/Describe* calls must never trigger a refresh.
DIRECTORY_CHANGES: Final = {
    ORGANIZATIONS_SOURCE: frozenset(
        {
            "CreateAccountResult",
            "CreateGovCloudAccountResult",
            "AcceptHandshake",
            "MoveAccount",
            "CloseAccount",
            "CloseAccountResult",
            "RemoveAccountFromOrganization",
            "LeaveOrganization",
            "TagResource",
            "UntagResource",
            "UpdateOrganizationalUnit",
        }
    ),
    ACCOUNT_SOURCE: frozenset({"PutAccountName"}),
    IAM_SOURCE: frozenset({"CreateAccountAlias", "DeleteAccountAlias"}),
}
CONTROL_TOWER_ACCOUNT_EVENTS: Final = frozenset({"CreateManagedAccount", "UpdateManagedAccount"})
SUCCEEDED: Final = "SUCCEEDED"


def _target(record: CloudTrailRecord) -> Target | None:
    request = record.request
    for key in TARGET_KEYS:
        found = jv.text(request.get(key))
        if found:
            return Target(found, found)
    invited = jv.text(jv.at(request, "target", "id"))
    return Target(invited, invited) if invited else None


def _noun(target: Target | None) -> str:
    return "account " if target is not None and _ACCOUNT_ID.match(target.name) else ""


@mapper(SOURCE, API_CALL)
def organizations_api_call(envelope: Envelope) -> Sequence[Alert] | Filtered:
    record = CloudTrailRecord(envelope)
    reason = own_read_call(record)
    if reason:
        return Filtered(reason)
    target = _target(record)
    floor = Severity.WARNING if record.api_name in STRUCTURE_CHANGES else Severity.INDETERMINATE
    return [api_call_alert(record, tag=TAG, floor=floor, target=target, noun=_noun(target))]


@mapper(SOURCE, SERVICE_EVENT)
def organizations_service_event(envelope: Envelope) -> Sequence[Alert] | Filtered:
    record = CloudTrailRecord(envelope)
    status = next((jv.mapping(v) for v in record.service_details.values() if jv.mapping(v)), jv.EMPTY)
    account_id = jv.text(status.get("accountId"))
    account_name = jv.text(status.get("accountName"))
    state = service_event_state(record)
    failure = jv.text(status.get("failureReason"))
    subject = f" for account {account_name or account_id}" if (account_name or account_id) else ""
    summary = f"Organizations {record.event_name or 'service event'}{subject}"
    if state:
        summary += f": {state}" + (f" ({failure})" if failure else "")
    return [
        Alert(
            summary=stable(summary),
            severity=Severity.MINOR if says_failure(state) else Severity.INDETERMINATE,
            tag=TAG,
            resource=account_id,
            fields=jv.present(
                {
                    **record.fields(),
                    "state": state,
                    "failure_reason": failure,
                    "target_account_id": account_id,
                    "target_account_name": account_name,
                }
            ),
        )
    ]


def _control_tower_account_change(record: CloudTrailRecord) -> bool:
    if record.event_name not in CONTROL_TOWER_ACCOUNT_EVENTS:
        return False
    return service_event_state(record).upper() == SUCCEEDED


def changes_account_directory(envelope: Envelope) -> bool:
    """True when the envelope says an account was created, closed, moved, renamed, tagged or left.

    The pipeline then refreshes its account cache. Pure and total: it never raises, whatever the
    envelope holds. Read-only calls and failed calls never count (see DIRECTORY_CHANGES).
    """
    if not envelope.detail_type.endswith("via CloudTrail"):
        return False
    record = CloudTrailRecord(envelope)
    if record.read_only is True or record.error_code:
        return False
    if envelope.source == CONTROL_TOWER_SOURCE:
        return _control_tower_account_change(record)
    event_source = record.event_source
    if not event_source and envelope.source == SOURCE:
        event_source = ORGANIZATIONS_SOURCE
    return record.event_name in DIRECTORY_CHANGES.get(event_source, frozenset())
