"""AWS Backup job state changes: backup, copy and restore jobs (aws.backup).

Node resource: the protected resource (resourceArn; for restores the source resource), which stays
the same from one job to the next, unlike the job id (a field).
FAILED -> MAJOR, ABORTED / EXPIRED / PARTIAL -> MINOR, COMPLETED -> CLEAR, all with the problem's
summary "AWS Backup <kind> job for <resource> did not complete", so the next good job clears it.
COMPLETED with a status message ("completed with issues" in the console) -> WARNING with its own
summary. CREATED / PENDING / RUNNING / ABORTING -> INDETERMINATE. Identifier: Panther's default.
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

TAG: Final = "Backup"
SOURCE: Final = "aws.backup"
KINDS: Final = {
    "Backup Job State Change": ("backup", "backupJobId"),
    "Copy Job State Change": ("copy", "copyJobId"),
    "Restore Job State Change": ("restore", "restoreJobId"),
}
STATE_SEVERITY: Final = {
    "FAILED": Severity.MAJOR,
    "ABORTED": Severity.MINOR,
    "EXPIRED": Severity.MINOR,
    "PARTIAL": Severity.MINOR,
    "COMPLETED": Severity.CLEAR,
}
COMPLETED: Final = "COMPLETED"


@mapper(SOURCE, *KINDS)
def backup_job_state_change(envelope: Envelope) -> Sequence[Alert] | Filtered:
    kind, job_key = KINDS[envelope.detail_type]
    # Backup and copy jobs report `state`, restore jobs `status` (as the AWS Backup API does).
    state = (envelope.text("state") or envelope.text("status")).upper()
    message = envelope.text("statusMessage").strip('"')
    full = (
        envelope.text("resourceArn")
        or envelope.text("sourceResourceArn")
        or (envelope.resources[0] if envelope.resources else "")
    )
    resource = short_name(full)
    subject = f"AWS Backup {kind} job for {resource or 'a resource'}"
    if state == COMPLETED and message:
        summary, severity = f"{subject} completed with issues", Severity.WARNING
    elif state in STATE_SEVERITY:
        summary, severity = f"{subject} did not complete", STATE_SEVERITY[state]
    else:
        summary, severity = f"{subject} {state.lower() or 'changed state'}", Severity.INDETERMINATE
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=resource,
            resource_arn=full,
            fields=jv.present(
                {
                    "job_state": state,
                    "job_id": envelope.text(job_key),
                    "status_message": message,
                    "resource_type": envelope.text("resourceType"),
                    "backup_vault": envelope.text("backupVaultName"),
                }
            ),
        )
    ]
