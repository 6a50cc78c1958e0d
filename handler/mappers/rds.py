"""Amazon RDS events (aws.rds): DB instance, cluster, snapshot, parameter group, proxy... events.

Summary: "RDS <source type> <id>: <Message>" with bare measurements in the message replaced by '#'
("low at #% of the allocated storage"), so that the same condition keeps the same summary. The
EventID (RDS-EVENT-0049) is a field. Severity, the highest over EventCategories:
failure, failover, low storage -> MAJOR; availability -> MINOR; maintenance, deletion, security,
security patching, read replica -> WARNING; anything else (notification, backup, configuration
change, creation, recovery, restoration...) -> INDETERMINATE. Identifier: Panther's default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.arn import short_name
from handler.mappers.registry import mapper
from handler.mappers.stable_text import mask_numbers, stable
from handler.severity import Severity

TAG: Final = "RDS"
SOURCE: Final = "aws.rds"
DETAIL_TYPES: Final = (
    "RDS DB Instance Event",
    "RDS DB Cluster Event",
    "RDS DB Snapshot Event",
    "RDS DB Cluster Snapshot Event",
    "RDS DB Parameter Group Event",
    "RDS DB Security Group Event",
    "RDS DB Proxy Event",
    "RDS DB Shard Group Event",
    "RDS Custom Engine Version Event",
    "RDS Blue Green Deployment Event",
    "RDS Zero ETL Event",
)
CATEGORY_SEVERITY: Final = {
    "failure": Severity.MAJOR,
    "failover": Severity.MAJOR,
    "low storage": Severity.MAJOR,
    "availability": Severity.MINOR,
    "maintenance": Severity.WARNING,
    "deletion": Severity.WARNING,
    "security": Severity.WARNING,
    "security patching": Severity.WARNING,
    "read replica": Severity.WARNING,
}
SOURCE_TYPE_WORDS: Final = {
    "DB_INSTANCE": "DB instance",
    "CLUSTER": "DB cluster",
    "SNAPSHOT": "DB snapshot",
    "CLUSTER_SNAPSHOT": "DB cluster snapshot",
    "DB_PARAM": "parameter group",
    "DB_CLUSTER_PARAM": "cluster parameter group",
    "DB_SECURITY_GROUP": "security group",
    "DB_PROXY": "DB proxy",
}


@mapper(SOURCE, *DETAIL_TYPES)
def rds_event(envelope: Envelope) -> Sequence[Alert] | Filtered:
    detail = envelope.detail
    categories = [c.lower() for c in jv.texts(detail.get("EventCategories"))]
    severity = max(
        (CATEGORY_SEVERITY.get(c, Severity.INDETERMINATE) for c in categories), default=Severity.INDETERMINATE
    )
    source_arn = jv.text(detail.get("SourceArn")) or (envelope.resources[0] if envelope.resources else "")
    name = short_name(source_arn) or jv.text(detail.get("SourceIdentifier")).removeprefix("rds:")
    source_type = jv.text(detail.get("SourceType"))
    kind = SOURCE_TYPE_WORDS.get(
        source_type, envelope.detail_type.removeprefix("RDS ").removesuffix(" Event")
    )
    message = mask_numbers(jv.text(detail.get("Message"))) or jv.text(detail.get("EventID")) or "event"
    return [
        Alert(
            summary=stable(f"RDS {kind} {name or '(unknown)'}: {message}"),
            severity=severity,
            tag=TAG,
            resource=name,
            resource_arn=source_arn,
            fields=jv.present(
                {
                    "rds_event_id": jv.text(detail.get("EventID")),
                    "event_categories": ", ".join(categories),
                    "source_type": source_type,
                    "message": jv.text(detail.get("Message")),
                }
            ),
        )
    ]
