"""Amazon EBS events (aws.ec2): snapshot, multi-volume snapshot, volume and fast snapshot restore.

Snapshots: node resource = what was snapshotted or copied (the source volume or snapshot), which
stays the same from one snapshot to the next; result failed -> MINOR and succeeded -> CLEAR, both
"EBS <operation> of <source> failed", so a later success clears the failure. The cause is a field
(it embeds key ARNs and request ids).
Volumes: failed -> MINOR "EBS <operation> failed for <volume>"; other results -> INDETERMINATE.
Fast snapshot restore: a Server.* message (AWS could not do it) -> MINOR, else INDETERMINATE.
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

TAG: Final = "EBS"
SOURCE: Final = "aws.ec2"
SNAPSHOT: Final = "EBS Snapshot Notification"
MULTI_VOLUME: Final = "EBS Multi-Volume Snapshots Completion Status"
VOLUME: Final = "EBS Volume Notification"
FAST_RESTORE: Final = "EBS Fast Snapshot Restore State-change Notification"
FAILED: Final = "failed"
SUCCEEDED: Final = "succeeded"
# Operations whose subject is their source (a volume or the snapshot copied), not the new snapshot.
FROM_SOURCE: Final = frozenset({"createSnapshot", "createSnapshots", "copySnapshot"})
SERVER_ERROR_PREFIX: Final = "Server."


def _fields(envelope: Envelope, **extra: str) -> dict[str, str]:
    return jv.present(
        {
            "ebs_event": envelope.text("event"),
            "result": envelope.text("result"),
            "cause": envelope.text("cause"),
            "request_id": envelope.text("request-id"),
            **extra,
        }
    )


def _result_severity(result: str) -> Severity:
    if result == FAILED:
        return Severity.MINOR
    return Severity.CLEAR if result == SUCCEEDED else Severity.INDETERMINATE


@mapper(SOURCE, SNAPSHOT)
def snapshot_notification(envelope: Envelope) -> Sequence[Alert] | Filtered:
    operation = envelope.text("event") or "snapshot operation"
    result = envelope.text("result").lower()
    snapshot = envelope.text("snapshot_id") or (envelope.resources[0] if envelope.resources else "")
    source = envelope.text("source")
    subject_full = source if operation in FROM_SOURCE and source else snapshot
    subject = short_name(subject_full) or "(unknown)"
    if result in {FAILED, SUCCEEDED}:
        summary = f"EBS {operation} of {subject} failed"
    else:
        summary = f"EBS {operation} of {subject}: {result or 'no result'}"
    return [
        Alert(
            summary=stable(summary),
            severity=_result_severity(result),
            tag=TAG,
            resource=subject if subject_full else "",
            resource_arn=subject_full,
            fields=_fields(envelope, snapshot_id=short_name(snapshot)),
        )
    ]


@mapper(SOURCE, MULTI_VOLUME)
def multi_volume_snapshots(envelope: Envelope) -> Sequence[Alert] | Filtered:
    snapshots = jv.mappings(envelope.detail.get("snapshots"))
    volumes = [short_name(jv.text(s.get("source"))) for s in snapshots]
    volumes = [v for v in volumes if v]
    result = envelope.text("result").lower()
    first = volumes[0] if volumes else ""
    subject = f"volumes of {first}" + (" and others" if len(volumes) > 1 else "") if first else "volumes"
    summary = (
        f"EBS multi-volume snapshot of {subject} failed"
        if result in {FAILED, SUCCEEDED}
        else f"EBS multi-volume snapshot of {subject}: {result or 'no result'}"
    )
    return [
        Alert(
            summary=stable(summary),
            severity=_result_severity(result),
            tag=TAG,
            resource=first,
            fields=_fields(envelope, volumes=", ".join(volumes)),
        )
    ]


@mapper(SOURCE, VOLUME)
def volume_notification(envelope: Envelope) -> Sequence[Alert] | Filtered:
    operation = envelope.text("event") or "volume operation"
    result = envelope.text("result").lower()
    full = envelope.resources[0] if envelope.resources else ""
    volume = short_name(full) or "(unknown volume)"
    if result == FAILED:
        summary, severity = f"EBS {operation} failed for {volume}", Severity.MINOR
    else:
        summary, severity = f"EBS {operation} for {volume}: {result or 'no result'}", Severity.INDETERMINATE
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=short_name(full),
            resource_arn=full,
            fields=_fields(envelope),
        )
    ]


@mapper(SOURCE, FAST_RESTORE)
def fast_snapshot_restore(envelope: Envelope) -> Sequence[Alert] | Filtered:
    snapshot = envelope.text("snapshot-id") or short_name(envelope.resources[0] if envelope.resources else "")
    state = envelope.text("state") or "unknown"
    zone = envelope.text("zone")
    message = envelope.text("message")
    where = f" in {zone}" if zone else ""
    return [
        Alert(
            summary=stable(f"EBS fast snapshot restore of {snapshot or '(unknown)'}{where}: {state}"),
            severity=Severity.MINOR if message.startswith(SERVER_ERROR_PREFIX) else Severity.INDETERMINATE,
            tag=TAG,
            resource=snapshot,
            fields=jv.present({"fsr_state": state, "zone": zone, "message": message}),
        )
    ]
