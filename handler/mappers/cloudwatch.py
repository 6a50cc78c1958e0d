"""CloudWatch alarm state changes ("CloudWatch Alarm State Change", aws.cloudwatch).

ALARM -> MINOR and OK -> CLEAR, both "CloudWatch alarm <name> in ALARM", so the recovery clears the
alarm's alert; INSUFFICIENT_DATA -> INDETERMINATE, "CloudWatch alarm <name> has insufficient data".
The reason (with datapoints and timestamps) is a field, never the summary. Node resource: the alarm
name. Identifier: Panther's default.
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

TAG: Final = "CloudWatch"
SOURCE: Final = "aws.cloudwatch"
ALARM_STATE_CHANGE: Final = "CloudWatch Alarm State Change"
ALARM: Final = "ALARM"
OK: Final = "OK"
INSUFFICIENT_DATA: Final = "INSUFFICIENT_DATA"
# Severity of an alarm in ALARM; one constant so an operator can find and tune it.
ALARM_SEVERITY: Final = Severity.MINOR


@mapper(SOURCE, ALARM_STATE_CHANGE)
def alarm_state_change(envelope: Envelope) -> Sequence[Alert] | Filtered:
    full = envelope.resources[0] if envelope.resources else ""
    name = envelope.text("alarmName") or short_name(full) or "(unnamed)"
    state = envelope.text("state", "value").upper()
    if state in {ALARM, OK}:
        summary = f"CloudWatch alarm {name} in ALARM"
        severity = ALARM_SEVERITY if state == ALARM else Severity.CLEAR
    elif state == INSUFFICIENT_DATA:
        summary, severity = f"CloudWatch alarm {name} has insufficient data", Severity.INDETERMINATE
    else:
        summary, severity = f"CloudWatch alarm {name} state {state or 'unknown'}", Severity.INDETERMINATE
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=name,
            resource_arn=full,
            fields=jv.present(
                {
                    "alarm_state": state,
                    "previous_state": envelope.text("previousState", "value"),
                    "state_reason": envelope.text("state", "reason"),
                    "alarm_description": envelope.text("configuration", "description"),
                    "actions_suppressed_by": envelope.text("state", "actionsSuppressedBy"),
                }
            ),
        )
    ]
