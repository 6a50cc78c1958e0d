"""The forwarder's own read calls, recognised so that they are never forwarded back to Panther.

The handler reads its token (secretsmanager GetSecretValue), assumes the lookup role (sts AssumeRole)
and lists the organisation (organizations List*/Describe*). When a member rule forwards read-only
CloudTrail events, each of those calls would come back as an event, and an Organizations event would
even trigger a new account listing. The member template excludes them already; this is the second
line of defence, applied by every mapper of CloudTrail API calls.
"""

from __future__ import annotations

from typing import Final

from handler.mappers.cloudtrail_record import CloudTrailRecord

SECRETS_MANAGER: Final = "secretsmanager.amazonaws.com"
ORGANIZATIONS: Final = "organizations.amazonaws.com"
STS: Final = "sts.amazonaws.com"
ORGANIZATIONS_READ_PREFIXES: Final = ("List", "Describe")


def _is_forwarder_read(event_source: str, event_name: str) -> bool:
    if event_source == SECRETS_MANAGER:
        return event_name == "GetSecretValue"
    if event_source == ORGANIZATIONS:
        return event_name.startswith(ORGANIZATIONS_READ_PREFIXES)
    if event_source == STS:
        return event_name == "AssumeRole"
    return False


def own_read_call(record: CloudTrailRecord) -> str:
    """The reason to filter `record` when it is one of the calls the forwarder itself makes, else "".

    These calls are read-only by nature, so a record that omits `readOnly` (older or flattened
    records) is treated as read-only; an explicit `readOnly: false` is respected.
    """
    if record.read_only is False:
        return ""
    if not _is_forwarder_read(record.event_source, record.event_name):
        return ""
    return (
        f"read-only {record.event_source.split('.', 1)[0]}:{record.event_name} is one of the calls the "
        "forwarder makes itself (feedback-loop guard)"
    )
