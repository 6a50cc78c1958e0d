"""CloudTrail API calls and service events ("AWS API Call via CloudTrail", any source).

Summary: "<who> called <service>:<Action> on <resource>", with ", denied (<code>)" or
", failed (<code>)" when the call failed. Severity: the highest of
- the error: access denied -> MAJOR, any other error -> MINOR (a dry run is not an error);
- the call itself (sensitive_calls): audit blinding / world-open ingress -> MAJOR, access and
  protection changes -> WARNING;
- root: any root call -> MAJOR, root read calls -> WARNING;
otherwise INDETERMINATE. The forwarder's own read calls are filtered (feedback_loop).
Identifier: Panther's default (node:severity:summary); who + what + target is the condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.arn import short_name
from handler.mappers.cloudtrail_record import CloudTrailRecord, Target
from handler.mappers.feedback_loop import own_read_call
from handler.mappers.generic import says_failure
from handler.mappers.registry import ANY_SOURCE, mapper
from handler.mappers.sensitive_calls import sensitivity
from handler.mappers.signin import SIGNIN_EVENT_NAMES, signin_alert
from handler.mappers.stable_text import has_uuid, stable
from handler.severity import Severity

TAG: Final = "CloudTrail"
API_CALL: Final = "AWS API Call via CloudTrail"
SERVICE_EVENT: Final = "AWS Service Event via CloudTrail"
SIGNIN_SOURCE: Final = "signin.amazonaws.com"
READ_PREFIXES: Final = ("Get", "List", "Describe", "Head", "Lookup", "BatchGet", "Search", "Select")
ACCESS_DENIED_CODES: Final = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess", "Unauthorized"}
)
DRY_RUN_CODE: Final = "DryRunOperation"
# Service-event details hold the outcome either at the top or in one nested "<operation>Status" object.
STATE_KEYS: Final = ("state", "status")


def _bare_code(code: str) -> str:
    """EC2 prefixes codes with Client./Server.: Client.UnauthorizedOperation is UnauthorizedOperation."""
    return code.split(".", 1)[1] if code.startswith(("Client.", "Server.")) else code


def is_access_denied(code: str) -> bool:
    bare = _bare_code(code)
    return bare in ACCESS_DENIED_CODES or bare.endswith(("AccessDenied", "AccessDeniedException"))


def is_read(record: CloudTrailRecord) -> bool:
    if record.read_only is not None:
        return record.read_only
    return record.api_name.startswith(READ_PREFIXES)


def error_severity(code: str) -> Severity:
    if not code or _bare_code(code) == DRY_RUN_CODE:
        return Severity.INDETERMINATE
    return Severity.MAJOR if is_access_denied(code) else Severity.MINOR


def root_severity(record: CloudTrailRecord) -> Severity:
    if not record.principal.is_root:
        return Severity.INDETERMINATE
    return Severity.WARNING if is_read(record) else Severity.MAJOR


def outcome(code: str) -> str:
    if not code or _bare_code(code) == DRY_RUN_CODE:
        return ""
    return f", denied ({code})" if is_access_denied(code) else f", failed ({code})"


def target_phrase(target: Target | None, noun: str = "") -> str:
    """ " on <name>" for the summary; a UUID target stays out of it (it is in the node already)."""
    if target is None or not target.name or has_uuid(target.name):
        return ""
    return f" on {noun}{target.name}"


def api_call_alert(
    record: CloudTrailRecord,
    *,
    tag: str = TAG,
    floor: Severity = Severity.INDETERMINATE,
    target: Target | None = None,
    noun: str = "",
) -> Alert:
    """The alert of one API call. `floor` lets a family raise the severity for its own reasons."""
    chosen = target or record.target
    call_severity, note = sensitivity(record)
    severity = max(error_severity(record.error_code), call_severity, root_severity(record), floor)
    summary = (
        f"{record.principal.label} called {record.action}"
        f"{target_phrase(chosen, noun)}{note}{outcome(record.error_code)}"
    )
    return Alert(
        summary=stable(summary),
        severity=severity,
        tag=tag,
        resource=chosen.name if chosen else "",
        resource_arn=chosen.full if chosen else "",
        fields={**record.fields(), "action": record.action},
    )


def _is_signin(record: CloudTrailRecord) -> bool:
    return record.event_source == SIGNIN_SOURCE or (
        not record.event_source and record.event_name in SIGNIN_EVENT_NAMES
    )


@mapper(ANY_SOURCE, API_CALL)
def cloudtrail_api_call(envelope: Envelope) -> Sequence[Alert] | Filtered:
    record = CloudTrailRecord(envelope)
    reason = own_read_call(record)
    if reason:
        return Filtered(reason)
    if _is_signin(record):
        # Sign-in events recorded as API calls (GetSigninToken, flattened records) read as sign-ins.
        return [signin_alert(record)]
    return [api_call_alert(record)]


def service_event_state(record: CloudTrailRecord) -> str:
    details = record.service_details
    for key in STATE_KEYS:
        found = jv.text(details.get(key))
        if found:
            return found
    for value in details.values():
        nested = jv.mapping(value)
        for key in STATE_KEYS:
            found = jv.text(nested.get(key))
            if found:
                return found
    return ""


def _service_event_target(record: CloudTrailRecord) -> Target | None:
    if record.target is not None:
        return record.target
    for key, value in record.service_details.items():
        found = jv.text(value)
        if found and key.endswith(("Arn", "ARN")):
            return Target(short_name(found), found)
    return None


@mapper(ANY_SOURCE, SERVICE_EVENT)
def cloudtrail_service_event(envelope: Envelope) -> Sequence[Alert] | Filtered:
    """Events AWS services record on their own (key rotation, S3 batch jobs, sign-in service)."""
    record = CloudTrailRecord(envelope)
    target = _service_event_target(record)
    state = service_event_state(record)
    summary = f"{record.service} service event {record.event_name or 'unknown'}{target_phrase(target)}"
    if state:
        summary += f": {state}"
    return [
        Alert(
            summary=stable(summary),
            severity=Severity.MINOR if says_failure(state) else Severity.INDETERMINATE,
            tag=TAG,
            resource=target.name if target else "",
            resource_arn=target.full if target else "",
            fields=jv.present({**record.fields(), "state": state}),
        )
    ]
