"""Console sign-in events ("AWS Console Sign In via CloudTrail", aws.signin).

ConsoleLogin (and other logins): failure -> MAJOR; root success -> MAJOR, CRITICAL without MFA;
IAM user success without MFA -> WARNING; other successes -> INDETERMINATE. Federated and SSO
sign-ins report MFAUsed "No" because MFA happens at the identity provider, so only IAM users are
held to it. CheckMfa failure -> MAJOR (the password was right). PasswordUpdated -> WARNING
(failure MINOR). Any other sign-in event: failure -> MINOR, else INDETERMINATE. Root never below MAJOR.
The node's resource is the principal (user name, role/session, root).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.cloudtrail_record import CloudTrailRecord
from handler.mappers.principal import IAM_USER
from handler.mappers.registry import ANY_SOURCE, mapper
from handler.mappers.stable_text import stable
from handler.severity import Severity

TAG: Final = "ConsoleSignIn"
SIGNIN: Final = "AWS Console Sign In via CloudTrail"
LOGIN_EVENTS: Final = frozenset({"ConsoleLogin", "ExternalIdPDirectoryLogin", "UserAuthentication"})
SIGNIN_EVENT_NAMES: Final = LOGIN_EVENTS | {"CheckMfa", "PasswordUpdated", "GetSigninToken", "SwitchRole"}
FAILURE: Final = "failure"
SUCCESS: Final = "success"


def _outcome(record: CloudTrailRecord) -> str:
    """'success', 'failure' or '' from responseElements.<EventName> (or an error in the record)."""
    stated = jv.text(record.response.get(record.event_name)).lower()
    if stated in {FAILURE, SUCCESS}:
        return stated
    if record.error_code or record.error_message:
        return FAILURE
    return ""


def _mfa_used(record: CloudTrailRecord) -> str:
    """'yes', 'no' or '' (the field is spelt Yes, YES, No in real records)."""
    return jv.text(jv.at(record.detail, "additionalEventData", "MFAUsed")).lower()


def _login(record: CloudTrailRecord, outcome: str, who: str) -> tuple[Severity, str]:
    principal = record.principal
    mfa = _mfa_used(record)
    if outcome == FAILURE:
        return Severity.MAJOR, f"Console sign-in failed for {who}"
    if principal.is_root:
        if mfa == "no":
            return Severity.CRITICAL, "Console sign-in by root without MFA"
        return Severity.MAJOR, "Console sign-in by root"
    if principal.kind == IAM_USER and mfa == "no":
        return Severity.WARNING, f"Console sign-in by {who} without MFA"
    return Severity.INDETERMINATE, f"Console sign-in by {who}"


def _other(record: CloudTrailRecord, outcome: str, who: str) -> tuple[Severity, str]:
    name = record.event_name or "sign-in event"
    if name == "CheckMfa":
        if outcome == FAILURE:
            return Severity.MAJOR, f"MFA check failed for {who}"
        return Severity.INDETERMINATE, f"MFA check for {who}"
    if name == "PasswordUpdated":
        if outcome == FAILURE:
            return Severity.MINOR, f"Console password change failed for {who}"
        return Severity.WARNING, f"Console password changed for {who}"
    if outcome == FAILURE:
        return Severity.MINOR, f"{name} failed for {who}"
    return Severity.INDETERMINATE, f"{name} by {who}"


def signin_alert(record: CloudTrailRecord) -> Alert:
    outcome = _outcome(record)
    principal = record.principal
    who = principal.label
    if record.event_name in LOGIN_EVENTS:
        severity, summary = _login(record, outcome, who)
    else:
        severity, summary = _other(record, outcome, who)
    if principal.is_root:
        severity = max(severity, Severity.MAJOR)
    return Alert(
        summary=stable(summary),
        severity=severity,
        tag=TAG,
        resource=principal.name,
        resource_arn=principal.arn,
        fields=jv.present({**record.fields(), "outcome": outcome, "mfa_used": _mfa_used(record)}),
    )


@mapper(ANY_SOURCE, SIGNIN)
def console_signin(envelope: Envelope) -> Sequence[Alert] | Filtered:
    return [signin_alert(CloudTrailRecord(envelope))]
