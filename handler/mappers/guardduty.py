"""GuardDuty findings ("GuardDuty Finding", aws.guardduty): one finding per event, in `detail`.

Severity from the documented bands of detail.severity (1.0-10.0):
  Low 1.0-3.9 -> WARNING (2), Medium 4.0-6.9 -> MINOR (3), High 7.0-8.9 -> MAJOR (4),
  Critical 9.0-10.0 -> CRITICAL (5); values below 1.0 (older findings) count as Low.
An archived finding (service.archived) -> CLEAR (0), same summary.
Summary: the finding title, plus the resource when the title does not name it; "[SAMPLE] " first
for sample findings. Identifier: "<finding arn>:<severity>": GuardDuty republishes a finding when it
recurs (count and lastSeen grow, severity stays), so its repeats aggregate into one alert, while the
clear (severity 0) stays a separate alert. external_id: the finding ARN.
The legacy `detail.findings` list (seen in some tools' test data) is read too, one alert per item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.finding_labels import finding_identifier, other_account_suffix, sample_prefix
from handler.mappers.registry import mapper
from handler.mappers.stable_text import stable
from handler.severity import Severity

TAG: Final = "GuardDuty"
SOURCE: Final = "aws.guardduty"
FINDING: Final = "GuardDuty Finding"
CONSOLE_URL: Final = (
    "https://console.aws.amazon.com/guardduty/home?region={region}#/findings?fId={finding_id}"
)
# (lower bound, Panther severity, GuardDuty level), highest first.
BANDS: Final = (
    (9.0, Severity.CRITICAL, "Critical"),
    (7.0, Severity.MAJOR, "High"),
    (4.0, Severity.MINOR, "Medium"),
)
LOW: Final = (Severity.WARNING, "Low")
# resource.resourceType -> where its operator-facing name lives.
RESOURCE_NAME_PATHS: Final = {
    "Instance": ("instanceDetails", "instanceId"),
    "AccessKey": ("accessKeyDetails", "userName"),
    "EKSCluster": ("eksClusterDetails", "name"),
    "ECSCluster": ("ecsClusterDetails", "name"),
    "Container": ("containerDetails", "name"),
    "RDSDBInstance": ("rdsDbInstanceDetails", "dbInstanceIdentifier"),
    "RDSLimitlessDB": ("rdsLimitlessDbDetails", "dbClusterIdentifier"),
    "Lambda": ("lambdaDetails", "functionName"),
}


def band(score: float | None) -> tuple[Severity, str]:
    """The Panther severity and GuardDuty level of a score; no score -> INDETERMINATE."""
    if score is None:
        return Severity.INDETERMINATE, ""
    for lower, severity, level in BANDS:
        if score >= lower:
            return severity, level
    return LOW


def _resource_name(finding: Mapping[str, Any]) -> str:
    resource = jv.mapping(finding.get("resource"))
    kind = jv.text(resource.get("resourceType"))
    path = RESOURCE_NAME_PATHS.get(kind)
    if path is not None:
        name = jv.text(jv.at(resource, *path))
        if name:
            return name
    for bucket in jv.mappings(resource.get("s3BucketDetails")):
        name = jv.text(bucket.get("name"))
        if name:
            return name
    affected = jv.mapping(jv.at(finding, "service", "action", "awsApiCallAction", "affectedResources"))
    for value in affected.values():
        name = jv.text(value)
        if name:
            return name.rsplit("/", 1)[-1]
    return ""


def finding_alert(envelope: Envelope, finding: Mapping[str, Any]) -> Alert:
    service = jv.mapping(finding.get("service"))
    severity, level = band(jv.number(finding.get("severity")))
    if jv.flag(service.get("archived")):
        severity = Severity.CLEAR
    finding_id = jv.text(finding.get("id"))
    arn = jv.text(finding.get("arn"))
    finding_type = jv.text(finding.get("type"))
    title = (jv.text(finding.get("title")) or finding_type or "GuardDuty finding").rstrip(".")
    resource = _resource_name(finding)
    summary = title if not resource or resource in title else f"{title} ({resource})"
    is_sample = bool(jv.flag(jv.at(service, "additionalInfo", "sample")))
    account_id = jv.text(finding.get("accountId"))
    region = jv.text(finding.get("region")) or envelope.region
    summary += other_account_suffix(account_id, envelope.account)
    key = arn or finding_id
    return Alert(
        summary=stable(sample_prefix(is_sample) + summary),
        severity=severity,
        tag=TAG,
        resource=resource,
        identifier=finding_identifier(key, severity),
        external_id=arn or finding_id,
        fields=jv.present(
            {
                "finding_type": finding_type,
                "finding_id": finding_id,
                "finding_account_id": account_id,
                "guardduty_severity": jv.text(finding.get("severity")),
                "guardduty_level": level,
                "resource_type": jv.text(jv.at(finding, "resource", "resourceType")),
                "archived": "true" if severity == Severity.CLEAR else "",
                "sample": "true" if is_sample else "",
                "console_url": CONSOLE_URL.format(region=region, finding_id=finding_id) if finding_id else "",
            }
        ),
    )


def findings_of(detail: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The finding itself, or each item of a legacy `findings` list."""
    if "findings" in detail and "type" not in detail:
        listed = jv.mappings(detail.get("findings"))
        if listed:
            return listed
    # A finding without the usual shape is still a finding: report what can be read of it.
    return [detail]


@mapper(SOURCE, FINDING)
def guardduty_finding(envelope: Envelope) -> Sequence[Alert] | Filtered:
    return [finding_alert(envelope, finding) for finding in findings_of(envelope.detail)]
