"""Amazon ECS events (aws.ecs): task state changes, deployments, service actions.

Task State Change: node resource = the task's group (service or task family; the task id changes
with every task). STOPPED with a non-zero container exit code, TaskFailedToStart, or a stop that is
neither user- nor scheduler-initiated -> MINOR, "ECS task of <group> stopped unexpectedly (<stopCode>)";
Spot interruption / termination notice -> WARNING; other transitions -> INDETERMINATE.
Deployment State Change: SERVICE_DEPLOYMENT_FAILED -> MAJOR and SERVICE_DEPLOYMENT_COMPLETED ->
CLEAR, both "ECS service <svc> deployment failed"; IN_PROGRESS -> INDETERMINATE (WARNING when
the circuit breaker is rolling back).
Service Action: eventType ERROR -> MINOR, WARN -> WARNING, INFO -> INDETERMINATE,
"ECS service <svc>: <EVENT_NAME>". Identifier: Panther's default.
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

TAG: Final = "ECS"
SOURCE: Final = "aws.ecs"
TASK: Final = "ECS Task State Change"
DEPLOYMENT: Final = "ECS Deployment State Change"
SERVICE_ACTION: Final = "ECS Service Action"
STOPPED: Final = "STOPPED"
ROUTINE_STOPS: Final = frozenset({"UserInitiated", "ServiceSchedulerInitiated"})
WARNED_STOPS: Final = frozenset({"SpotInterruption", "TerminationNotice"})
FAILED_TO_START: Final = "TaskFailedToStart"
DEPLOYMENT_FAILED: Final = "SERVICE_DEPLOYMENT_FAILED"
DEPLOYMENT_COMPLETED: Final = "SERVICE_DEPLOYMENT_COMPLETED"
ROLLING_BACK_HINT: Final = "rolling back"
EVENT_TYPE_SEVERITY: Final = {
    "ERROR": Severity.MINOR,
    "WARN": Severity.WARNING,
    "INFO": Severity.INDETERMINATE,
}


def _task_group(detail: Mapping[str, Any]) -> str:
    """`my-svc` from group "service:my-svc", `family` from "family:name" or the task definition."""
    group = jv.text(detail.get("group"))
    if group:
        return group.split(":", 1)[-1]
    return short_name(jv.text(detail.get("taskDefinitionArn"))).split(":", 1)[0]


def _exit_codes(detail: Mapping[str, Any]) -> list[int]:
    codes = (jv.number(c.get("exitCode")) for c in jv.mappings(detail.get("containers")))
    return [int(code) for code in codes if code is not None]


def task_severity(detail: Mapping[str, Any]) -> tuple[Severity, bool]:
    """(severity, unexpected stop?) of a task state change."""
    if jv.text(detail.get("lastStatus")).upper() != STOPPED:
        return Severity.INDETERMINATE, False
    stop_code = jv.text(detail.get("stopCode"))
    if stop_code in WARNED_STOPS:
        return Severity.WARNING, False
    unexpected = (
        stop_code == FAILED_TO_START
        or any(code != 0 for code in _exit_codes(detail))
        or bool(stop_code and stop_code not in ROUTINE_STOPS)
    )
    return (Severity.MINOR, True) if unexpected else (Severity.INDETERMINATE, False)


@mapper(SOURCE, TASK)
def task_state_change(envelope: Envelope) -> Sequence[Alert] | Filtered:
    detail = envelope.detail
    group = _task_group(detail)
    last_status = jv.text(detail.get("lastStatus")) or "unknown"
    stop_code = jv.text(detail.get("stopCode"))
    severity, unexpected = task_severity(detail)
    subject = f"ECS task of {group or 'unknown group'}"
    if unexpected:
        summary = f"{subject} stopped unexpectedly" + (f" ({stop_code})" if stop_code else "")
    elif last_status.upper() == STOPPED:
        summary = f"{subject} stopped" + (f" ({stop_code})" if stop_code else "")
    else:
        summary = f"{subject} {last_status}"
    codes = _exit_codes(detail)
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=group,
            resource_arn=jv.text(detail.get("taskArn")),
            fields=jv.present(
                {
                    "cluster": short_name(jv.text(detail.get("clusterArn"))),
                    "task_status": last_status,
                    "desired_status": jv.text(detail.get("desiredStatus")),
                    "stop_code": stop_code,
                    "stopped_reason": jv.text(detail.get("stoppedReason")),
                    "exit_codes": ", ".join(str(code) for code in codes),
                    "task_definition": short_name(jv.text(detail.get("taskDefinitionArn"))),
                }
            ),
        )
    ]


def _service(envelope: Envelope) -> tuple[str, str]:
    full = envelope.resources[0] if envelope.resources else ""
    return short_name(full), full


@mapper(SOURCE, DEPLOYMENT)
def deployment_state_change(envelope: Envelope) -> Sequence[Alert] | Filtered:
    service, full = _service(envelope)
    event_name = envelope.text("eventName")
    reason = envelope.text("reason")
    subject = f"ECS service {service or '(unknown)'}"
    if event_name in {DEPLOYMENT_FAILED, DEPLOYMENT_COMPLETED}:
        summary = f"{subject} deployment failed"
        severity = Severity.MAJOR if event_name == DEPLOYMENT_FAILED else Severity.CLEAR
    else:
        summary = f"{subject}: {event_name or 'deployment state change'}"
        rolling_back = ROLLING_BACK_HINT in reason.lower()
        severity = Severity.WARNING if rolling_back else Severity.INDETERMINATE
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=service,
            resource_arn=full,
            fields=jv.present(
                {
                    "ecs_event_name": event_name,
                    "reason": reason,
                    "deployment_id": envelope.text("deploymentId"),
                }
            ),
        )
    ]


@mapper(SOURCE, SERVICE_ACTION)
def service_action(envelope: Envelope) -> Sequence[Alert] | Filtered:
    service, full = _service(envelope)
    event_type = envelope.text("eventType").upper()
    event_name = envelope.text("eventName") or "service action"
    return [
        Alert(
            summary=stable(f"ECS service {service or '(unknown)'}: {event_name}"),
            severity=EVENT_TYPE_SEVERITY.get(event_type, Severity.INDETERMINATE),
            tag=TAG,
            resource=service,
            resource_arn=full,
            fields=jv.present(
                {
                    "ecs_event_name": event_name,
                    "ecs_event_type": event_type,
                    "reason": envelope.text("reason"),
                    "cluster": short_name(envelope.text("clusterArn")),
                }
            ),
        )
    ]
