"""The accounts a StackSet targets: every account below the configured OUs, at any depth.

AWS deploys a service-managed StackSet to every account in the targeted OUs and in all their
child OUs, except the management account. The expected coverage is computed the same way, by
walking the tree through the Organizations API (management account or delegated admin).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class OrgAccount:
    account_id: str
    name: str
    status: str
    parent_id: str
    # The targeted OU (or root) this account was found under.
    target: str

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


@dataclass(frozen=True, slots=True)
class OrganizationInfo:
    organization_id: str
    management_account_id: str


def describe_organization(organizations: Any) -> OrganizationInfo:
    organization = organizations.describe_organization()["Organization"]
    return OrganizationInfo(str(organization["Id"]), str(organization["MasterAccountId"]))


def _pages(organizations: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in organizations.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def units_below(organizations: Any, parent_id: str) -> list[str]:
    """`parent_id` and every OU below it, breadth first (iterative: any depth, no recursion limit)."""
    found = [parent_id]
    queue = [parent_id]
    while queue:
        current = queue.pop(0)
        for unit in _pages(
            organizations, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=current
        ):
            found.append(unit["Id"])
            queue.append(unit["Id"])
    return found


def accounts_in_units(organizations: Any, targets: Sequence[str]) -> list[OrgAccount]:
    """Every account below the targeted OUs or roots, each once, in a stable order."""
    seen: dict[str, OrgAccount] = {}
    for target in targets:
        for unit in units_below(organizations, target):
            for account in _pages(organizations, "list_accounts_for_parent", "Accounts", ParentId=unit):
                account_id = str(account["Id"])
                seen.setdefault(
                    account_id,
                    OrgAccount(
                        account_id, str(account.get("Name", "")), str(account.get("Status", "")), unit, target
                    ),
                )
    return sorted(seen.values(), key=lambda a: (a.name, a.account_id))


def stackset_targets(accounts: Iterable[OrgAccount], management_account_id: str) -> list[OrgAccount]:
    """The accounts a service-managed StackSet deploys to: active ones, never the management account."""
    return [a for a in accounts if a.active and a.account_id != management_account_id]
