"""Read the organisation an account belongs to from moto's Organizations backend.

Used to evaluate `aws:PrincipalOrgID` and `aws:PrincipalOrgPaths` (IAM global condition keys)
and to expand StackSet OU targets. The path of an account has AWS's documented entity-path form,
`o-<org>/r-<root>/ou-<a>/ou-<b>/`: the organisation, the root and every OU from the root down to
the account's parent, each followed by a slash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PARTITION = "aws"


@dataclass(frozen=True, slots=True)
class Membership:
    org_id: str
    management_account_id: str
    path: str  # o-.../r-.../ou-.../


def org_backend_of(account_id: str) -> Any | None:
    """The Organizations backend of the management account that owns `account_id`, if any."""
    from moto.organizations.models import organizations_backends

    if account_id in organizations_backends.master_accounts:
        master, partition = organizations_backends.master_accounts[account_id]
        return organizations_backends[master][partition]
    backend = organizations_backends[account_id][PARTITION]
    return backend if backend.org is not None else None


def parent_chain(backend: Any, parent_id: str) -> list[str]:
    """Ids from the root down to `parent_id` (inclusive)."""
    by_id = {ou.id: ou for ou in list(backend.ou)}
    chain: list[str] = []
    current: str | None = parent_id
    while current is not None and current in by_id:
        chain.append(current)
        current = getattr(by_id[current], "parent_id", None)
    return list(reversed(chain))


def membership(account_id: str) -> Membership | None:
    backend = org_backend_of(account_id)
    if backend is None or backend.org is None:
        return None
    account = next((a for a in list(backend.accounts) if a.id == account_id), None)
    if account is None:
        return None
    chain = parent_chain(backend, account.parent_id)
    path = "/".join([backend.org.id, *chain]) + "/"
    return Membership(backend.org.id, backend.org.master_account_id, path)


def accounts_under(backend: Any, unit_ids: list[str]) -> list[str]:
    """Every account below the given roots/OUs at any depth, in the organisation's order."""
    wanted = set(unit_ids)
    result: list[str] = []
    for account in list(backend.accounts):
        if wanted.intersection(parent_chain(backend, account.parent_id)):
            result.append(account.id)
    return result


def account_is_under(backend: Any, account_id: str, unit_id: str) -> bool:
    account = next((a for a in list(backend.accounts) if a.id == account_id), None)
    return account is not None and unit_id in parent_chain(backend, account.parent_id)
