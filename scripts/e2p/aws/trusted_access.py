"""Trusted access for StackSets: a service-managed stack set works only once it is activated.

CloudFormation's DescribeOrganizationsAccess answers ENABLED or DISABLED for the caller (management
account, or a delegated administrator with CallAs=DELEGATED_ADMIN); ActivateOrganizationsAccess turns
it on for the whole organisation (CloudFormation User Guide, "Activate trusted access for stack sets
with AWS Organizations"). Without it CreateStackSet refuses a SERVICE_MANAGED stack set. Activating
changes an organisation-wide setting, so `e2p deploy` does it only with the operator's consent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

from e2p.exceptions import E2PError

ENABLED: Final = "ENABLED"
ACTIVATE_COMMAND: Final = "aws cloudformation activate-organizations-access"


class TrustedAccessError(E2PError):
    """Trusted access for StackSets is off and was not activated."""


@dataclass(frozen=True, slots=True)
class TrustedAccess:
    status: str
    activated: bool = False

    @property
    def detail(self) -> str:
        return "activated now" if self.activated else f"already {self.status.lower()}"


def _call_as(call_as: str) -> dict[str, str]:
    return {"CallAs": call_as} if call_as and call_as != "SELF" else {}


def ensure_trusted_access(cfn: Any, call_as: str, consent: Callable[[], bool]) -> TrustedAccess:
    """Check trusted access; activate it when `consent()` says so, else raise TrustedAccessError."""
    try:
        status = str(cfn.describe_organizations_access(**_call_as(call_as))["Status"])
    except ClientError as exc:
        raise TrustedAccessError(
            f"cannot read trusted access for StackSets (DescribeOrganizationsAccess): {exc}"
        ) from exc
    if status == ENABLED:
        return TrustedAccess(status)
    if not consent():
        suffix = " --call-as DELEGATED_ADMIN" if call_as == "DELEGATED_ADMIN" else ""
        raise TrustedAccessError(
            f"trusted access for StackSets is {status}: a service-managed stack set cannot be created. "
            f"Run `{ACTIVATE_COMMAND}{suffix}` from the management account, or `e2p deploy "
            "--activate-trusted-access`."
        )
    try:
        cfn.activate_organizations_access(**_call_as(call_as))
    except ClientError as exc:
        raise TrustedAccessError(f"ActivateOrganizationsAccess failed: {exc}") from exc
    return TrustedAccess(ENABLED, activated=True)
