"""AWS Health events ("AWS Health Event", "AWS Health Abuse Event", aws.health).

Summary: "AWS Health: <service> <category> <EVENT_TYPE_CODE>", the same while the event is open
and when it closes. Severity by eventTypeCategory: issue -> MINOR, scheduledChange -> WARNING,
investigation -> WARNING, accountNotification -> INDETERMINATE (WARNING when actionability is
ACTION_REQUIRED); abuse events -> MAJOR; statusCode closed -> CLEAR.
Node resource: the affected entity when there is exactly one, else none (the list is in the
`affected_entities` field; a Health event is paged over several events, so a count would change).
Identifier: Panther's default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.arn import short_name
from handler.mappers.registry import mapper
from handler.mappers.stable_text import stable
from handler.severity import Severity

TAG: Final = "Health"
SOURCE: Final = "aws.health"
HEALTH_EVENT: Final = "AWS Health Event"
ABUSE_EVENT: Final = "AWS Health Abuse Event"
CATEGORY_SEVERITY: Final = {
    "issue": Severity.MINOR,
    "scheduledChange": Severity.WARNING,
    "investigation": Severity.WARNING,
    "accountNotification": Severity.INDETERMINATE,
}
CLOSED: Final = "closed"
ACTION_REQUIRED: Final = "ACTION_REQUIRED"
MAX_LISTED_ENTITIES: Final = 10


def _entities(envelope: Envelope) -> list[str]:
    values = [jv.text(e.get("entityValue")) for e in jv.mappings(envelope.detail.get("affectedEntities"))]
    return [v for v in values if v] or list(envelope.resources)


@mapper(SOURCE, HEALTH_EVENT, ABUSE_EVENT)
def health_event(envelope: Envelope) -> Sequence[Alert] | Filtered:
    detail = envelope.detail
    service = jv.text(detail.get("service"))
    code = jv.text(detail.get("eventTypeCode")) or "unknown event"
    category = jv.text(detail.get("eventTypeCategory"))
    status = jv.text(detail.get("statusCode")).lower()
    actionability = jv.text(detail.get("actionability")).upper()

    if status == CLOSED:
        severity = Severity.CLEAR
    elif envelope.detail_type == ABUSE_EVENT:
        severity = Severity.MAJOR
    else:
        severity = CATEGORY_SEVERITY.get(category, Severity.INDETERMINATE)
        if actionability == ACTION_REQUIRED:
            severity = max(severity, Severity.WARNING)

    entities = _entities(envelope)
    single = entities[0] if len(entities) == 1 else ""
    head = " ".join(part for part in (service, category) if part)
    summary = f"AWS Health: {head} {code}" if head else f"AWS Health: {code}"
    affected_account = jv.text(detail.get("affectedAccount"))
    if affected_account and affected_account != envelope.account:
        # Organizational view: the event reached the management or delegated admin account.
        summary += f" in account {affected_account}"
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=short_name(single),
            resource_arn=single,
            external_id=jv.text(detail.get("eventArn")),
            fields=jv.present(
                {
                    "health_service": service,
                    "event_type_code": code,
                    "event_type_category": category,
                    "status_code": status,
                    "event_scope": jv.text(detail.get("eventScopeCode")),
                    "actionability": actionability,
                    "affected_account_id": affected_account,
                    "affected_entities": ", ".join(entities[:MAX_LISTED_ENTITIES]),
                    "event_region": jv.text(detail.get("eventRegion")),
                }
            ),
        )
    ]
