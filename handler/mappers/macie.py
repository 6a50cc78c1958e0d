"""Amazon Macie: findings ("Macie Finding") and classic Macie alerts ("Macie Alert").

Finding: severity.description Low -> WARNING, Medium -> MINOR, High -> MAJOR (Critical, should Macie
add it, -> CRITICAL); an archived finding -> CLEAR. Summary: title + bucket, "[SAMPLE] " for
sample findings. Identifier "<finding id>:<severity>" (Macie updates a finding's count as it recurs).
Classic alert: risk 1-10 (trigger.risk, else risk-score / 10): 1-3 WARNING, 4-6 MINOR, 7-8 MAJOR,
9-10 CRITICAL. Summary "Macie alert: <name>". Identifier "<alert arn>:<severity>".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.finding_labels import (
    finding_identifier,
    other_account_suffix,
    sample_prefix,
    severity_for_label,
)
from handler.mappers.registry import mapper
from handler.mappers.stable_text import stable
from handler.severity import Severity

TAG: Final = "Macie"
SOURCE: Final = "aws.macie"
FINDING: Final = "Macie Finding"
CLASSIC_ALERT: Final = "Macie Alert"
# (lowest risk, severity), highest first; Macie classic rates risk 1-10.
RISK_BANDS: Final = (
    (9.0, Severity.CRITICAL),
    (7.0, Severity.MAJOR),
    (4.0, Severity.MINOR),
    (1.0, Severity.WARNING),
)
RISK_SCORE_SCALE: Final = 10.0


@mapper(SOURCE, FINDING)
def macie_finding(envelope: Envelope) -> Sequence[Alert] | Filtered:
    detail = envelope.detail
    level = jv.text(jv.at(detail, "severity", "description"))
    severity = severity_for_label(level) or Severity.INDETERMINATE
    if jv.flag(detail.get("archived")):
        severity = Severity.CLEAR
    bucket = jv.text(jv.at(detail, "resourcesAffected", "s3Bucket", "name"))
    bucket_arn = jv.text(jv.at(detail, "resourcesAffected", "s3Bucket", "arn"))
    title = (jv.text(detail.get("title")) or jv.text(detail.get("type")) or "Macie finding").rstrip(".")
    summary = f"{title}: {bucket}" if bucket and bucket not in title else title
    account_id = jv.text(detail.get("accountId"))
    summary += other_account_suffix(account_id, envelope.account)
    finding_id = jv.text(detail.get("id"))
    return [
        Alert(
            summary=stable(sample_prefix(bool(jv.flag(detail.get("sample")))) + summary),
            severity=severity,
            tag=TAG,
            resource=bucket,
            resource_arn=bucket_arn,
            identifier=finding_identifier(finding_id, severity),
            external_id=finding_id,
            fields=jv.present(
                {
                    "finding_type": jv.text(detail.get("type")),
                    "finding_category": jv.text(detail.get("category")),
                    "macie_severity": level,
                    "object_key": jv.text(jv.at(detail, "resourcesAffected", "s3Object", "key")),
                    "finding_account_id": account_id,
                }
            ),
        )
    ]


def risk_severity(risk: float | None) -> Severity:
    if risk is None:
        return Severity.INDETERMINATE
    return next((severity for lower, severity in RISK_BANDS if risk >= lower), Severity.WARNING)


@mapper(SOURCE, CLASSIC_ALERT)
def macie_classic_alert(envelope: Envelope) -> Sequence[Alert] | Filtered:
    detail = envelope.detail
    risk = jv.number(jv.at(detail, "trigger", "risk"))
    score = jv.number(detail.get("risk-score"))
    if risk is None and score is not None:
        risk = score / RISK_SCORE_SCALE
    severity = risk_severity(risk)
    name = jv.text(detail.get("name")) or "unnamed alert"
    alert_arn = jv.text(detail.get("alert-arn"))
    return [
        Alert(
            summary=stable(f"Macie alert: {name}"),
            severity=severity,
            tag=TAG,
            identifier=finding_identifier(alert_arn, severity),
            external_id=alert_arn,
            fields=jv.present(
                {
                    "notification_type": jv.text(detail.get("notification-type")),
                    "risk_score": jv.text(detail.get("risk-score")),
                    "alert_type": jv.text(jv.at(detail, "trigger", "alert-type")),
                    "actor": jv.text(detail.get("actor")),
                    "console_url": jv.text(detail.get("url")),
                }
            ),
        )
    ]
