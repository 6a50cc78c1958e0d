"""AWS Step Functions execution status changes (aws.states).

Node resource: the state machine (the execution changes with every run). FAILED / TIMED_OUT -> MINOR
and SUCCEEDED -> CLEAR, both "Step Functions <machine> execution failed", so the next good run clears
the failure; ABORTED -> WARNING (usually stopped by someone); RUNNING and others -> INDETERMINATE.
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

TAG: Final = "StepFunctions"
SOURCE: Final = "aws.states"
EXECUTION_STATUS_CHANGE: Final = "Step Functions Execution Status Change"
STATUS_SEVERITY: Final = {
    "FAILED": Severity.MINOR,
    "TIMED_OUT": Severity.MINOR,
    "SUCCEEDED": Severity.CLEAR,
}
ABORTED: Final = "ABORTED"


@mapper(SOURCE, EXECUTION_STATUS_CHANGE)
def execution_status_change(envelope: Envelope) -> Sequence[Alert] | Filtered:
    machine_arn = envelope.text("stateMachineArn")
    machine = short_name(machine_arn) or "(unknown state machine)"
    status = envelope.text("status").upper()
    if status in STATUS_SEVERITY:
        summary, severity = f"Step Functions {machine} execution failed", STATUS_SEVERITY[status]
    else:
        words = status.lower().replace("_", " ") or "changed status"
        summary = f"Step Functions {machine} execution {words}"
        severity = Severity.WARNING if status == ABORTED else Severity.INDETERMINATE
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=short_name(machine_arn),
            resource_arn=machine_arn,
            fields=jv.present(
                {
                    "execution_status": status,
                    "execution_name": envelope.text("name"),
                    "execution_arn": envelope.text("executionArn"),
                    "error": envelope.text("error"),
                    "cause": envelope.text("cause"),
                }
            ),
        )
    ]
