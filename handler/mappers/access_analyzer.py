"""IAM Access Analyzer findings ("Access Analyzer Finding", aws.access-analyzer).

ACTIVE: access from outside the zone of trust -> MINOR, public access (isPublic) -> MAJOR; a finding
that could not be analysed (error) -> WARNING. RESOLVED or ARCHIVED, or the resource deleted
(isDeleted) -> CLEAR with the same summary: "Access Analyzer: <type> <resource> is shared with
<principal>" ("is public" for public access). Identifier "<finding id>:<severity>".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.arn import short_name
from handler.mappers.finding_labels import finding_identifier
from handler.mappers.registry import mapper
from handler.mappers.stable_text import stable
from handler.severity import Severity

TAG: Final = "AccessAnalyzer"
SOURCE: Final = "aws.access-analyzer"
FINDING: Final = "Access Analyzer Finding"
ACTIVE: Final = "ACTIVE"
CLEARED_STATUSES: Final = frozenset({"RESOLVED", "ARCHIVED"})


def _principal(detail: Mapping[str, Any]) -> str:
    principal = jv.mapping(detail.get("principal"))
    values = [v for value in principal.values() for v in jv.texts(value)]
    return ", ".join(values)


@mapper(SOURCE, FINDING)
def access_analyzer_finding(envelope: Envelope) -> Sequence[Alert] | Filtered:
    detail = envelope.detail
    status = jv.text(detail.get("status")).upper()
    is_public = bool(jv.flag(detail.get("isPublic")))
    error = jv.text(detail.get("error"))
    full = jv.text(detail.get("resource"))
    resource = short_name(full)
    resource_type = jv.text(detail.get("resourceType"))
    subject = " ".join(p for p in (resource_type, resource) if p) or "a resource"
    principal = _principal(detail)

    if not full:
        summary = "Access Analyzer finding without a resource"
    elif error:
        summary = f"Access Analyzer could not analyze {subject} ({error})"
    elif is_public:
        summary = f"Access Analyzer: {subject} is public"
    elif principal:
        summary = f"Access Analyzer: {subject} is shared with {principal}"
    else:
        summary = f"Access Analyzer: {subject} is shared outside the zone of trust"

    if status in CLEARED_STATUSES or jv.flag(detail.get("isDeleted")):
        severity = Severity.CLEAR
    elif status != ACTIVE:
        severity = Severity.INDETERMINATE
    elif error:
        severity = Severity.WARNING
    else:
        severity = Severity.MAJOR if is_public else Severity.MINOR
    finding_id = jv.text(detail.get("id"))
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=resource,
            resource_arn=full,
            identifier=finding_identifier(finding_id, severity),
            external_id=finding_id,
            fields=jv.present(
                {
                    "finding_status": status,
                    "resource_type": resource_type,
                    "external_principal": principal,
                    "actions": ", ".join(jv.texts(detail.get("action"))),
                    "is_public": "true" if is_public else "",
                    "analysis_error": error,
                    "analyzer": short_name(envelope.resources[0]) if envelope.resources else "",
                }
            ),
        )
    ]
