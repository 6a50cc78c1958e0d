"""Amazon Inspector (aws.inspector2): findings, scans and coverage.

Finding: severity label INFORMATIONAL/UNTRIAGED -> INDETERMINATE, LOW -> WARNING, MEDIUM -> MINOR,
HIGH -> MAJOR, CRITICAL -> CRITICAL; status CLOSED or SUPPRESSED -> CLEAR with the same summary,
"<title> on <resource>". Identifier "<finding arn>:<severity>" (updates of a finding aggregate).
Scan: INDETERMINATE, "Inspector <scan status> for <resource>"; the finding counts are fields, not
summary (they change from scan to scan). Coverage: INACTIVE -> WARNING, ACTIVE -> CLEAR, both with
"Inspector is not scanning <resource>"; the reason is a field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.arn import short_name
from handler.mappers.finding_labels import finding_identifier, other_account_suffix, severity_for_label
from handler.mappers.registry import mapper
from handler.mappers.stable_text import stable
from handler.severity import Severity

TAG: Final = "Inspector"
SOURCE: Final = "aws.inspector2"
FINDING: Final = "Inspector2 Finding"
SCAN: Final = "Inspector2 Scan"
COVERAGE: Final = "Inspector2 Coverage"
CLEARED_STATUSES: Final = frozenset({"CLOSED", "SUPPRESSED"})
INACTIVE: Final = "INACTIVE"
ACTIVE: Final = "ACTIVE"
COUNT_LEVELS: Final = ("CRITICAL", "HIGH", "MEDIUM", "TOTAL")


def _finding_resource(detail: Mapping[str, Any], envelope: Envelope) -> tuple[str, str, str]:
    """(short name, full id, type) of the first resource."""
    for resource in jv.mappings(detail.get("resources")):
        full = jv.text(resource.get("id"))
        if full:
            return short_name(full), full, jv.text(resource.get("type"))
    full = envelope.resources[0] if envelope.resources else ""
    return short_name(full), full, ""


@mapper(SOURCE, FINDING)
def inspector_finding(envelope: Envelope) -> Sequence[Alert] | Filtered:
    detail = envelope.detail
    label = jv.text(detail.get("severity")).upper()
    status = jv.text(detail.get("status")).upper()
    severity = (
        Severity.CLEAR if status in CLEARED_STATUSES else severity_for_label(label) or Severity.INDETERMINATE
    )
    resource, full, resource_type = _finding_resource(detail, envelope)
    title = (jv.text(detail.get("title")) or jv.text(detail.get("type")) or "Inspector finding").rstrip(".")
    summary = f"{title} on {resource}" if resource and resource not in title else title
    account_id = jv.text(detail.get("awsAccountId"))
    summary += other_account_suffix(account_id, envelope.account)
    arn = jv.text(detail.get("findingArn"))
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=resource,
            resource_arn=full,
            identifier=finding_identifier(arn, severity),
            external_id=arn,
            fields=jv.present(
                {
                    "finding_type": jv.text(detail.get("type")),
                    "finding_status": status,
                    "severity_label": label,
                    "inspector_score": jv.text(detail.get("inspectorScore")),
                    "vulnerability_id": jv.text(
                        jv.at(detail, "packageVulnerabilityDetails", "vulnerabilityId")
                    ),
                    "fix_available": jv.text(detail.get("fixAvailable")),
                    "exploit_available": jv.text(detail.get("exploitAvailable")),
                    "resource_type": resource_type,
                    "finding_account_id": account_id,
                }
            ),
        )
    ]


@mapper(SOURCE, SCAN)
def inspector_scan(envelope: Envelope) -> Sequence[Alert] | Filtered:
    detail = envelope.detail
    full = jv.first_text(detail, "repository-name", "instance-id") or (
        envelope.resources[0] if envelope.resources else ""
    )
    resource = short_name(full)
    status = jv.text(detail.get("scan-status")) or "scan"
    counts = jv.mapping(detail.get("finding-severity-counts"))
    return [
        Alert(
            summary=stable(f"Inspector {status.lower().replace('_', ' ')} for {resource or 'a resource'}"),
            severity=Severity.INDETERMINATE,
            tag=TAG,
            resource=resource,
            resource_arn=full,
            fields=jv.present(
                {
                    "scan_status": status,
                    "image_digest": jv.text(detail.get("image-digest")),
                    **{f"findings_{level.lower()}": jv.text(counts.get(level)) for level in COUNT_LEVELS},
                }
            ),
        )
    ]


@mapper(SOURCE, COVERAGE)
def inspector_coverage(envelope: Envelope) -> Sequence[Alert] | Filtered:
    detail = envelope.detail
    full = envelope.resources[0] if envelope.resources else ""
    resource = short_name(full)
    state = jv.text(jv.at(detail, "scanStatus", "statusCodeValue")).upper()
    reason = jv.text(jv.at(detail, "scanStatus", "reason"))
    subject = resource or "a resource"
    if state in {INACTIVE, ACTIVE}:
        summary = f"Inspector is not scanning {subject}"
        severity = Severity.WARNING if state == INACTIVE else Severity.CLEAR
    else:
        summary, severity = f"Inspector coverage of {subject}: {state or 'unknown'}", Severity.INDETERMINATE
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=resource,
            resource_arn=full,
            fields=jv.present(
                {
                    "scan_state": state,
                    "scan_reason": reason,
                    "scan_type": jv.text(detail.get("scanType")),
                    "provider": jv.text(detail.get("provider")),
                }
            ),
        )
    ]
