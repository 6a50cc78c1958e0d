"""Who did it: a CloudTrail `userIdentity` as a short, stable label.

Session names of assumed roles are often generated per session (SDK timestamps, UUIDs, numeric
ids); such a session name is dropped from the label so the summary stays the same for the same role.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from handler.mappers import json_values as jv
from handler.mappers.arn import Arn, parse_arn
from handler.mappers.stable_text import looks_volatile

ROOT: Final = "Root"
IAM_USER: Final = "IAMUser"
ASSUMED_ROLE: Final = "AssumedRole"
AWS_SERVICE: Final = "AWSService"
AWS_ACCOUNT: Final = "AWSAccount"
FEDERATED_USER: Final = "FederatedUser"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # userIdentity.type, "" when absent
    name: str  # short form for fields and nodes: "anaya", "Admin/my-user", "root", "ec2.amazonaws.com"
    label: str  # for summaries: "IAM user anaya", "role Admin/my-user", "root"
    arn: str = ""
    account_id: str = ""

    @property
    def is_root(self) -> bool:
        return self.kind == ROOT


def _session_label(arn_resource: str, issuer_name: str) -> str:
    """`Role/session` from `assumed-role/Role/session`, without a generated session name."""
    parts = arn_resource.split("/")
    role = issuer_name or (parts[1] if len(parts) > 1 else "")
    session = parts[2] if len(parts) > 2 else ""
    if session and not looks_volatile(session):
        return f"{role}/{session}" if role else session
    return role


# What a builder finds: (kind, name, label) of the Principal; principal_from adds the ARN and account
# and builds the Principal once (a frozen dataclass costs as much to build as a builder to run).
Found = tuple[str, str, str]


def _root(ui: Mapping[str, Any], arn: Arn | None) -> Found:
    return ROOT, "root", "root"


def _iam_user(ui: Mapping[str, Any], arn: Arn | None) -> Found:
    name = jv.text(ui.get("userName")) or (arn.resource.rsplit("/", 1)[-1] if arn else "") or "unknown"
    return IAM_USER, name, f"IAM user {name}"


def _assumed_role(ui: Mapping[str, Any], arn: Arn | None) -> Found:
    issuer = jv.text(jv.at(ui, "sessionContext", "sessionIssuer", "userName"))
    name = _session_label(arn.resource if arn else "", issuer) or jv.text(ui.get("userName")) or "unknown"
    return ASSUMED_ROLE, name, f"role {name}"


def _federated_user(ui: Mapping[str, Any], arn: Arn | None) -> Found:
    name = (arn.resource.rsplit("/", 1)[-1] if arn else "") or jv.text(ui.get("userName")) or "unknown"
    return FEDERATED_USER, name, f"federated user {name}"


def _aws_service(ui: Mapping[str, Any], arn: Arn | None) -> Found:
    name = jv.text(ui.get("invokedBy")) or "unknown service"
    return jv.text(ui.get("type")), name, f"AWS service {name}"


def _aws_account(ui: Mapping[str, Any], arn: Arn | None) -> Found:
    name = jv.text(ui.get("accountId")) or jv.text(ui.get("principalId")).split(":", 1)[0] or "unknown"
    return AWS_ACCOUNT, name, f"account {name}"


def _other(ui: Mapping[str, Any], arn: Arn | None) -> Found:
    """IdentityCenterUser, SAMLUser, WebIdentityUser, Unknown..., or no type at all."""
    kind = jv.text(ui.get("type"))
    name = jv.text(ui.get("userName")) or (arn.resource if arn else "")
    if not name:
        return kind, "unknown", "unknown principal"
    return kind, name, f"{kind or 'principal'} {name}"


_BUILDERS: Final[dict[str, Callable[[Mapping[str, Any], Arn | None], Found]]] = {
    ROOT: _root,
    IAM_USER: _iam_user,
    ASSUMED_ROLE: _assumed_role,
    FEDERATED_USER: _federated_user,
    AWS_SERVICE: _aws_service,
    AWS_ACCOUNT: _aws_account,
}


def principal_from(identity: Any) -> Principal:
    ui: Mapping[str, Any] = jv.mapping(identity)
    kind = jv.text(ui.get("type"))
    arn_text = jv.text(ui.get("arn"))
    arn = parse_arn(arn_text)
    # Service events carry only {accountId, invokedBy}: no type, an AWS service.
    service_only = not kind and bool(jv.text(ui.get("invokedBy")))
    builder = _aws_service if service_only else _BUILDERS.get(kind, _other)
    principal_kind, name, label = builder(ui, arn)
    return Principal(principal_kind, name, label, arn_text, jv.text(ui.get("accountId")))
