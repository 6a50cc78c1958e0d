"""AWS Config: configuration item changes and rule compliance changes.

Configuration Item Change: "AWS Config: <type> <name> <change>", the change from
configurationItemDiff.changeType (CREATE/UPDATE/DELETE; the diff may be null or absent) or else the
item status (ResourceDeleted, ResourceNotRecorded...). A deletion -> WARNING, other changes ->
INDETERMINATE.

Rules Compliance Change: the summary names the problem, "Config rule <rule>: <type> <id>
non-compliant", for every state, so that the clear carries the text of the alert it clears.
NON_COMPLIANT -> MINOR; COMPLIANT -> CLEAR; NOT_APPLICABLE after NON_COMPLIANT -> CLEAR (the
resource left the rule's scope, e.g. it was deleted), otherwise filtered (nothing was ever raised);
INSUFFICIENT_DATA -> INDETERMINATE with its own summary. Identifier: Panther's default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.arn import short_name
from handler.mappers.registry import mapper
from handler.mappers.stable_text import stable
from handler.severity import Severity

TAG: Final = "Config"
SOURCE: Final = "aws.config"
ITEM_CHANGE: Final = "Config Configuration Item Change"
COMPLIANCE_CHANGE: Final = "Config Rules Compliance Change"
NON_COMPLIANT: Final = "NON_COMPLIANT"
COMPLIANT: Final = "COMPLIANT"
NOT_APPLICABLE: Final = "NOT_APPLICABLE"
INSUFFICIENT_DATA: Final = "INSUFFICIENT_DATA"
# Severity of a compliance rule failing; one constant so an operator can find and tune it.
NON_COMPLIANT_SEVERITY: Final = Severity.MINOR
CHANGE_WORDS: Final = {"CREATE": "created", "UPDATE": "updated", "DELETE": "deleted"}
DELETED_STATUSES: Final = frozenset({"ResourceDeleted", "ResourceDeletedNotRecorded"})
MAX_CHANGED_PROPERTIES: Final = 10


def _configuration_item(detail: Mapping[str, Any]) -> Mapping[str, Any]:
    """The item; older notifications wrap it in a one-element list."""
    item = detail.get("configurationItem")
    items = jv.mappings(item)
    return items[0] if items else jv.EMPTY


@mapper(SOURCE, ITEM_CHANGE)
def configuration_item_change(envelope: Envelope) -> Sequence[Alert] | Filtered:
    item = _configuration_item(envelope.detail)
    diff = jv.mapping(envelope.detail.get("configurationItemDiff"))
    change_type = jv.text(diff.get("changeType")).upper()
    status = jv.text(item.get("configurationItemStatus"))
    resource_type = jv.text(item.get("resourceType")) or "resource"
    resource_id = jv.text(item.get("resourceId"))
    name = jv.text(item.get("resourceName")) or resource_id
    arn = jv.first_text(item, "ARN", "arn") or (envelope.resources[0] if envelope.resources else "")
    change = CHANGE_WORDS.get(change_type) or (status if status and status != "OK" else "changed")
    deleted = change_type == "DELETE" or status in DELETED_STATUSES
    changed = list(jv.mapping(diff.get("changedProperties")))[:MAX_CHANGED_PROPERTIES]
    return [
        Alert(
            summary=stable(f"AWS Config: {resource_type} {name} {change}".replace("  ", " ")),
            severity=Severity.WARNING if deleted else Severity.INDETERMINATE,
            tag=TAG,
            resource=name or short_name(arn),
            resource_arn=arn,
            fields=jv.present(
                {
                    "resource_type": resource_type,
                    "resource_id": resource_id,
                    "change_type": change_type,
                    "configuration_item_status": status,
                    "changed_properties": ", ".join(changed),
                }
            ),
        )
    ]


def _compliance(result: Any) -> str:
    return jv.text(jv.mapping(result).get("complianceType")).upper()


@mapper(SOURCE, COMPLIANCE_CHANGE)
def rules_compliance_change(envelope: Envelope) -> Sequence[Alert] | Filtered:
    detail = envelope.detail
    rule = jv.text(detail.get("configRuleName")) or "unknown rule"
    resource_type = jv.text(detail.get("resourceType"))
    resource_id = jv.text(detail.get("resourceId"))
    new = _compliance(detail.get("newEvaluationResult"))
    old = _compliance(detail.get("oldEvaluationResult"))
    subject = " ".join(part for part in (resource_type, resource_id) if part) or "resource"
    problem = f"Config rule {rule}: {subject} non-compliant"

    if new == NON_COMPLIANT:
        summary, severity = problem, NON_COMPLIANT_SEVERITY
    elif new == COMPLIANT:
        summary, severity = problem, Severity.CLEAR
    elif new == NOT_APPLICABLE:
        if old != NON_COMPLIANT:
            return Filtered(f"Config rule {rule}: {subject} not applicable and never non-compliant")
        summary, severity = problem, Severity.CLEAR
    else:
        summary = f"Config rule {rule}: {subject} {new.lower().replace('_', ' ') or 'evaluated'}"
        severity = Severity.INDETERMINATE
    # The account itself is no resource of the node (the node names the account already).
    resource = "" if resource_id == envelope.account or resource_type == "AWS::::Account" else resource_id
    annotation = jv.text(jv.at(detail, "newEvaluationResult", "annotation"))
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=short_name(resource),
            resource_arn=resource,
            fields=jv.present(
                {
                    "config_rule": rule,
                    "config_rule_arn": jv.text(detail.get("configRuleARN")),
                    "compliance": new,
                    "previous_compliance": old,
                    "resource_type": resource_type,
                    "resource_id": resource_id,
                    "annotation": annotation,
                }
            ),
        )
    ]
