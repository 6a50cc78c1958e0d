"""EC2 Auto Scaling events (aws.autoscaling): launches, terminations, lifecycle actions, refreshes.

Node resource: the Auto Scaling group; the instance id is a field (it changes with every launch, the
group's condition does not).
Launch/Terminate Unsuccessful -> MINOR, "Auto Scaling group G failed to launch an instance: <cause>"
(the StatusMessage, which names the cause). Successful launch/terminate and lifecycle actions ->
INDETERMINATE. Instance refresh: Failed -> MINOR and Succeeded -> CLEAR, both with "Auto Scaling group
G instance refresh failed"; Cancelled -> WARNING; Started, Checkpoint Reached -> INDETERMINATE.
Identifier: Panther's default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.registry import mapper
from handler.mappers.stable_text import mask_ids, shorten, stable
from handler.severity import Severity

TAG: Final = "AutoScaling"
SOURCE: Final = "aws.autoscaling"
LAUNCH_OK: Final = "EC2 Instance Launch Successful"
LAUNCH_FAILED: Final = "EC2 Instance Launch Unsuccessful"
TERMINATE_OK: Final = "EC2 Instance Terminate Successful"
TERMINATE_FAILED: Final = "EC2 Instance Terminate Unsuccessful"
LAUNCH_HOOK: Final = "EC2 Instance-launch Lifecycle Action"
TERMINATE_HOOK: Final = "EC2 Instance-terminate Lifecycle Action"
REFRESH_PREFIX: Final = "EC2 Auto Scaling Instance Refresh "
REFRESH_STARTED: Final = REFRESH_PREFIX + "Started"
REFRESH_CHECKPOINT: Final = REFRESH_PREFIX + "Checkpoint Reached"
REFRESH_SUCCEEDED: Final = REFRESH_PREFIX + "Succeeded"
REFRESH_FAILED: Final = REFRESH_PREFIX + "Failed"
REFRESH_CANCELLED: Final = REFRESH_PREFIX + "Cancelled"
CAUSE_LIMIT: Final = 160

ACTIVITY_WORDS: Final = {
    LAUNCH_OK: "launched an instance",
    LAUNCH_FAILED: "failed to launch an instance",
    TERMINATE_OK: "terminated an instance",
    TERMINATE_FAILED: "failed to terminate an instance",
}
REFRESH: Final = {
    REFRESH_STARTED: ("instance refresh started", Severity.INDETERMINATE),
    REFRESH_CHECKPOINT: ("instance refresh reached a checkpoint", Severity.INDETERMINATE),
    REFRESH_SUCCEEDED: ("instance refresh failed", Severity.CLEAR),
    REFRESH_FAILED: ("instance refresh failed", Severity.MINOR),
    REFRESH_CANCELLED: ("instance refresh cancelled", Severity.WARNING),
}


def _group(envelope: Envelope) -> str:
    return envelope.text("AutoScalingGroupName") or "(unknown group)"


def _alert(envelope: Envelope, summary: str, severity: Severity, extra: dict[str, str]) -> Alert:
    group = envelope.text("AutoScalingGroupName")
    return Alert(
        summary=stable(summary),
        severity=severity,
        tag=TAG,
        resource=group,
        fields=jv.present(
            {"auto_scaling_group": group, "instance_id": envelope.text("EC2InstanceId"), **extra}
        ),
    )


@mapper(SOURCE, LAUNCH_OK, LAUNCH_FAILED, TERMINATE_OK, TERMINATE_FAILED)
def scaling_activity(envelope: Envelope) -> Sequence[Alert] | Filtered:
    words = ACTIVITY_WORDS[envelope.detail_type]
    failed = envelope.detail_type in {LAUNCH_FAILED, TERMINATE_FAILED}
    cause = envelope.text("StatusMessage")
    summary = f"Auto Scaling group {_group(envelope)} {words}"
    if failed and cause:
        # The message names the cause (capacity, quota, configuration); ids in it are masked.
        summary += f": {shorten(mask_ids(cause), CAUSE_LIMIT)}"
    extra = {
        "status_code": envelope.text("StatusCode"),
        "status_message": cause,
        "cause": envelope.text("Cause"),
        "activity_id": envelope.text("ActivityId"),
    }
    return [_alert(envelope, summary, Severity.MINOR if failed else Severity.INDETERMINATE, extra)]


@mapper(SOURCE, LAUNCH_HOOK, TERMINATE_HOOK)
def lifecycle_action(envelope: Envelope) -> Sequence[Alert] | Filtered:
    hook = envelope.text("LifecycleHookName") or "lifecycle hook"
    transition = "launch" if envelope.detail_type == LAUNCH_HOOK else "termination"
    summary = f"Auto Scaling group {_group(envelope)}: {hook} holds an instance {transition}"
    extra = {
        "lifecycle_hook": envelope.text("LifecycleHookName"),
        "lifecycle_transition": envelope.text("LifecycleTransition"),
        "origin": envelope.text("Origin"),
        "destination": envelope.text("Destination"),
    }
    return [_alert(envelope, summary, Severity.INDETERMINATE, extra)]


@mapper(SOURCE, *REFRESH)
def instance_refresh(envelope: Envelope) -> Sequence[Alert] | Filtered:
    words, severity = REFRESH[envelope.detail_type]
    extra = {
        "instance_refresh_id": envelope.text("InstanceRefreshId"),
        "checkpoint_percentage": envelope.text("CheckpointPercentage"),
    }
    return [_alert(envelope, f"Auto Scaling group {_group(envelope)} {words}", severity, extra)]
