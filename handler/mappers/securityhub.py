"""Security Hub findings ("Security Hub Findings - Imported" and "- Custom Action"): one alert per
finding of detail.findings (ASFF).

Severity from Severity.Label (else from Severity.Normalized with Security Hub's own ranges):
INFORMATIONAL -> INDETERMINATE, LOW -> WARNING, MEDIUM -> MINOR, HIGH -> MAJOR, CRITICAL -> CRITICAL.
CLEAR (0) when the finding is over: Workflow.Status RESOLVED or SUPPRESSED (legacy WorkflowState
RESOLVED), RecordState ARCHIVED, or Compliance.Status PASSED (the Status field, not the object).
Summary: Title plus the first resource's short name (same text raised or cleared, so console rules
can pair them by node + summary). Identifier: "<finding Id>:<severity>" (a finding is re-imported
on every update: its repeats aggregate; a severity change or the clear is a new alert).
external_id: the finding Id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.arn import short_name
from handler.mappers.finding_labels import (
    finding_identifier,
    other_account_suffix,
    sample_prefix,
    severity_for_label,
)
from handler.mappers.registry import mapper
from handler.mappers.stable_text import stable
from handler.severity import Severity

TAG: Final = "SecurityHub"
SOURCE: Final = "aws.securityhub"
IMPORTED: Final = "Security Hub Findings - Imported"
CUSTOM_ACTION: Final = "Security Hub Findings - Custom Action"
CLEARED_WORKFLOW: Final = frozenset({"RESOLVED", "SUPPRESSED"})
ARCHIVED: Final = "ARCHIVED"
PASSED: Final = "PASSED"
ACCOUNT_RESOURCE_PREFIX: Final = "AWS::::Account:"
# Security Hub's documented Normalized -> Label ranges (lower bounds, highest first).
NORMALIZED_BANDS: Final = ((90, "CRITICAL"), (70, "HIGH"), (40, "MEDIUM"), (1, "LOW"), (0, "INFORMATIONAL"))


def label_of(finding: Mapping[str, Any]) -> str:
    severity = jv.mapping(finding.get("Severity"))
    label = jv.text(severity.get("Label")).upper()
    if label:
        return label
    normalized = jv.number(severity.get("Normalized"))
    if normalized is None:
        return ""
    return next((name for lower, name in NORMALIZED_BANDS if normalized >= lower), "")


def clear_reason(finding: Mapping[str, Any]) -> str:
    """Why the finding no longer needs attention ("" while it still does)."""
    workflow = (
        jv.text(jv.at(finding, "Workflow", "Status")).upper() or jv.text(finding.get("WorkflowState")).upper()
    )
    if workflow in CLEARED_WORKFLOW:
        return f"workflow {workflow}"
    if jv.text(finding.get("RecordState")).upper() == ARCHIVED:
        return "record ARCHIVED"
    if jv.text(jv.at(finding, "Compliance", "Status")).upper() == PASSED:
        return "compliance PASSED"
    return ""


def _first_resource(finding: Mapping[str, Any]) -> tuple[str, str, str]:
    """(short name, full id, type); the account itself is no resource (the node names it)."""
    for resource in jv.mappings(finding.get("Resources")):
        full = jv.text(resource.get("Id"))
        kind = jv.text(resource.get("Type"))
        if full.startswith(ACCOUNT_RESOURCE_PREFIX):
            return "", full, kind
        if full:
            return short_name(full), full, kind
    return "", "", ""


def finding_alert(envelope: Envelope, finding: Mapping[str, Any]) -> Alert:
    label = label_of(finding)
    reason = clear_reason(finding)
    severity = Severity.CLEAR if reason else (severity_for_label(label) or Severity.INDETERMINATE)
    title = (
        jv.text(finding.get("Title")) or jv.text(finding.get("GeneratorId")) or "Security Hub finding"
    ).rstrip(".")
    resource, resource_full, resource_type = _first_resource(finding)
    summary = title if not resource or resource in title else f"{title}: {resource}"
    account_id = jv.text(finding.get("AwsAccountId"))
    summary += other_account_suffix(account_id, envelope.account)
    finding_id = jv.text(finding.get("Id"))
    types = jv.texts(finding.get("Types"))
    compliance = jv.mapping(finding.get("Compliance"))
    return Alert(
        summary=stable(sample_prefix(bool(jv.flag(finding.get("Sample")))) + summary),
        severity=severity,
        tag=TAG,
        resource=resource,
        resource_arn=resource_full,
        identifier=finding_identifier(finding_id, severity),
        external_id=finding_id,
        fields=jv.present(
            {
                "finding_type": types[0] if types else "",
                "finding_account_id": account_id,
                "product_name": jv.text(finding.get("ProductName"))
                or short_name(jv.text(finding.get("ProductArn"))),
                "severity_label": label,
                "compliance_status": jv.text(compliance.get("Status")),
                "control_id": jv.text(compliance.get("SecurityControlId"))
                or jv.text(jv.at(finding, "ProductFields", "ControlId")),
                "workflow_status": jv.text(jv.at(finding, "Workflow", "Status")),
                "record_state": jv.text(finding.get("RecordState")),
                "clear_reason": reason,
                "resource_type": resource_type,
                "remediation_url": jv.text(jv.at(finding, "Remediation", "Recommendation", "Url")),
            }
        ),
    )


@mapper(SOURCE, IMPORTED, CUSTOM_ACTION)
def securityhub_findings(envelope: Envelope) -> Sequence[Alert] | Filtered:
    findings = jv.mappings(envelope.detail.get("findings"))
    if not findings:
        return Filtered("Security Hub event without findings")
    return [finding_alert(envelope, finding) for finding in findings]
