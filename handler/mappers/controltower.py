"""AWS Control Tower lifecycle events ("AWS Service Event via CloudTrail", aws.controltower).

serviceEventDetails holds one `<operation>Status` object with a state (SUCCEEDED, FAILED,
IN_PROGRESS), a message and the account, OU or controls concerned. FAILED -> MAJOR (a landing zone,
account factory or control operation did not complete); removing protection (DisableGuardrail,
DisableControl, DeregisterOrganizationalUnit, DecommissionLandingZone...) -> WARNING;
anything else -> INDETERMINATE. Identifier: Panther's default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.arn import short_name
from handler.mappers.cloudtrail import SERVICE_EVENT
from handler.mappers.cloudtrail_record import CloudTrailRecord
from handler.mappers.generic import says_failure
from handler.mappers.registry import mapper
from handler.mappers.stable_text import stable
from handler.severity import Severity

TAG: Final = "ControlTower"
SOURCE: Final = "aws.controltower"
LANDING_ZONE: Final = "LandingZone"
PROTECTION_REMOVED: Final = frozenset(
    {
        "DisableGuardrail",
        "DisableControl",
        "DisableBaseline",
        "DeregisterOrganizationalUnit",
        "DeregisterManagedAccount",
        "DecommissionLandingZone",
        "DeleteLandingZone",
    }
)


def _status(record: CloudTrailRecord) -> Mapping[str, Any]:
    for value in record.service_details.values():
        found = jv.mapping(value)
        if found:
            return found
    return jv.EMPTY


def _ou_name(status: Mapping[str, Any]) -> str:
    single = jv.mapping(status.get("organizationalUnit"))
    units = [single, *jv.mappings(status.get("organizationalUnits"))]
    for unit in units:
        name = jv.first_text(unit, "organizationalUnitName", "organizationalUnitId")
        if name:
            return name
    return short_name(jv.text(status.get("targetIdentifier")))


def _controls(status: Mapping[str, Any]) -> str:
    ids = [jv.text(g.get("guardrailId")) for g in jv.mappings(status.get("guardrails"))]
    ids.append(short_name(jv.text(status.get("controlIdentifier"))))
    return ", ".join(i for i in ids if i)


@mapper(SOURCE, SERVICE_EVENT)
def control_tower_event(envelope: Envelope) -> Sequence[Alert] | Filtered:
    record = CloudTrailRecord(envelope)
    status = _status(record)
    event = record.event_name or "lifecycle event"
    state = jv.text(status.get("state"))
    account = jv.mapping(status.get("account"))
    account_name = jv.text(account.get("accountName"))
    account_id = jv.text(account.get("accountId"))
    ou = _ou_name(status)
    controls = _controls(status)

    if LANDING_ZONE in event:
        # Landing zone operations list every OU and account they touched: the zone is the subject.
        subject, resource = "", ""
    elif account_name or account_id:
        subject = f" for account {account_name or account_id}" + (f" in OU {ou}" if ou else "")
        resource = account_name or account_id
    elif controls:
        subject = f" {controls}" + (f" on OU {ou}" if ou else "")
        resource = ou
    elif ou:
        subject = f" for OU {ou}"
        resource = ou
    else:
        subject, resource = "", ""
    summary = f"Control Tower {event}{subject}" + (f": {state}" if state else "")

    if says_failure(state):
        severity = Severity.MAJOR
    elif event in PROTECTION_REMOVED:
        severity = Severity.WARNING
    else:
        severity = Severity.INDETERMINATE
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=resource,
            fields=jv.present(
                {
                    **record.fields(),
                    "state": state,
                    "message": jv.text(status.get("message")),
                    "target_account_id": account_id,
                    "target_account_name": account_name,
                    "target_ou": ou,
                    "control_ids": controls,
                }
            ),
        )
    ]
