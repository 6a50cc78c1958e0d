"""What a mapper returns: alerts about one envelope, before the account is known.

A mapper is pure: it sees only the envelope. The account's name and OU are added afterwards
(handler.compose) so that mapping can be tested, and run offline by `e2p map`, without AWS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from handler.severity import Severity


@dataclass(frozen=True, slots=True)
class Alert:
    """One Panther event to be, as the mapper sees it.

    summary: one stable line (no timestamps, event ids or request ids: Panther aggregates on it).
    resource: the short name operators know (instance id, bucket, function); part of the node.
    resource_arn: the full identifier, sent as an extra field.
    identifier: sent as Panther's `identifier` to aggregate on something other than
        node:severity:summary (e.g. a finding id); None keeps Panther's default.
    external_id: what the console stores as external_id (finding ARN); the event id when empty.
    fields: extra, family-specific string fields for console rules.
    account, region: the account and region the alert is about when they are not the envelope's
        (the coverage watchdog, in the central account, reports on member accounts); empty: the
        envelope's. They make the node and the account context fields.
    """

    summary: str
    severity: Severity
    tag: str
    resource: str = ""
    resource_arn: str = ""
    identifier: str | None = None
    external_id: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    account: str = ""
    region: str = ""


class MapStatus(StrEnum):
    MAPPED = "mapped"  # a registered mapper gave one or more alerts
    GENERIC = "generic"  # no mapper is registered (or it failed): the generic mapping was used
    FILTERED = "filtered"  # deliberately nothing to send, with a reason
    INVALID = "invalid"  # not a usable envelope


@dataclass(frozen=True, slots=True)
class Filtered:
    """A mapper's explicit decision to send nothing. The reason is logged and counted."""

    reason: str


@dataclass(frozen=True, slots=True)
class MapResult:
    status: MapStatus
    alerts: Sequence[Alert] = ()
    reason: str = ""
    # What mapped it: a mapper function's name, "<file> entry <n>" for a declarative entry, "generic".
    mapped_by: str = ""
