"""EC2 instance events: state changes, Spot interruption warnings, rebalance recommendations.

State change: Panther aggregates on node:severity:summary and pairs nothing by itself, so the
summary names the condition, "EC2 instance <id> is not running", the same text for every state
that leaves or re-enters service; the state itself is in the `instance_state` field.
stopping/stopped/shutting-down/terminated -> WARNING, running -> CLEAR (0) with that same summary
so console rules can clear the stop alert of that node, pending -> INDETERMINATE ("is starting").
Spot interruption warning -> MINOR (two minutes' notice); rebalance recommendation -> WARNING.
Identifier: Panther's default. Node resource: the instance id.
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

TAG: Final = "EC2"
SOURCE: Final = "aws.ec2"
STATE_CHANGE: Final = "EC2 Instance State-change Notification"
SPOT_INTERRUPTION: Final = "EC2 Spot Instance Interruption Warning"
REBALANCE: Final = "EC2 Instance Rebalance Recommendation"
DOWN_STATES: Final = frozenset({"stopping", "stopped", "shutting-down", "terminated"})
RUNNING: Final = "running"
PENDING: Final = "pending"


def instance_of(envelope: Envelope) -> tuple[str, str]:
    """(instance id, full identifier); the id may sit under "instance-id" or "instance_id", padded."""
    instance_id = envelope.text("instance-id").strip() or envelope.text("instance_id").strip()
    full = envelope.resources[0].strip() if envelope.resources else ""
    if not instance_id and full:
        instance_id = short_name(full)
    return instance_id, full or instance_id


@mapper(SOURCE, STATE_CHANGE)
def instance_state_change(envelope: Envelope) -> Sequence[Alert] | Filtered:
    instance_id, full = instance_of(envelope)
    state = envelope.text("state").strip().lower()
    label = instance_id or "(unknown)"
    if state in DOWN_STATES or state == RUNNING:
        summary = f"EC2 instance {label} is not running"
        severity = Severity.CLEAR if state == RUNNING else Severity.WARNING
    elif state == PENDING:
        summary, severity = f"EC2 instance {label} is starting", Severity.INDETERMINATE
    else:
        summary, severity = f"EC2 instance {label} state {state or 'unknown'}", Severity.INDETERMINATE
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=instance_id,
            resource_arn=full,
            fields=jv.present({"instance_id": instance_id, "instance_state": state}),
        )
    ]


@mapper(SOURCE, SPOT_INTERRUPTION)
def spot_interruption(envelope: Envelope) -> Sequence[Alert] | Filtered:
    instance_id, full = instance_of(envelope)
    action = envelope.text("instance-action").strip()
    summary = f"EC2 Spot instance {instance_id or '(unknown)'} will be interrupted"
    if action:
        summary += f" ({action})"
    return [
        Alert(
            summary=stable(summary),
            severity=Severity.MINOR,
            tag=TAG,
            resource=instance_id,
            resource_arn=full,
            fields=jv.present({"instance_id": instance_id, "instance_action": action}),
        )
    ]


@mapper(SOURCE, REBALANCE)
def rebalance_recommendation(envelope: Envelope) -> Sequence[Alert] | Filtered:
    instance_id, full = instance_of(envelope)
    return [
        Alert(
            summary=stable(
                f"EC2 instance {instance_id or '(unknown)'} is at elevated risk of Spot interruption"
            ),
            severity=Severity.WARNING,
            tag=TAG,
            resource=instance_id,
            resource_arn=full,
            fields=jv.present({"instance_id": instance_id}),
        )
    ]
