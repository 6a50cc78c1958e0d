"""AWS KMS key events (aws.kms).

KMS CMK Rotation -> INDETERMINATE (routine); KMS CMK Deletion -> MINOR (the key and everything only
it can decrypt are gone; the deletion was scheduled days before, see CloudTrail ScheduleKeyDeletion);
KMS Imported Key Material Expiration -> MAJOR (the key is unusable until material is re-imported).
The key id (a UUID) is the node's resource and stays out of the summary. Identifier: default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.registry import mapper
from handler.mappers.stable_text import stable
from handler.severity import Severity

TAG: Final = "KMS"
SOURCE: Final = "aws.kms"
EVENTS: Final = {
    "KMS CMK Rotation": ("KMS key material rotated", Severity.INDETERMINATE),
    "KMS CMK Deletion": ("KMS key deleted", Severity.MINOR),
    "KMS Imported Key Material Expiration": ("KMS imported key material expired", Severity.MAJOR),
}


@mapper(SOURCE, *EVENTS)
def kms_key_event(envelope: Envelope) -> Sequence[Alert] | Filtered:
    summary, severity = EVENTS[envelope.detail_type]
    key_id = envelope.text("key-id")
    full = envelope.resources[0] if envelope.resources else key_id
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=key_id,
            resource_arn=full,
            fields=jv.present({"key_id": key_id}),
        )
    ]
