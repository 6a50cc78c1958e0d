"""The organisation the local mode builds: nested OUs, named and tagged accounts.

    Root
    |-- Infrastructure    (targeted)   shared-services (the central account), network
    |-- Security          (targeted)   security-tooling, log-archive
    |-- Workloads         (targeted)
    |   |-- Prod                       web-prod
    |   |   `-- Payments               payments-prod
    |   `-- NonProd                    web-staging, data-dev
    `-- Sandbox           (not targeted)

Workloads is targeted at its top, so its accounts two and three levels down are reached only
because the StackSet expands OU targets to any depth, as AWS does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEMO_EMAIL_DOMAIN = "example.com"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    account_id: str
    name: str
    ou_path: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DemoOrganization:
    organization_id: str
    root_id: str
    management_account: str
    ou_ids: Mapping[str, str]  # "Workloads/Prod" -> ou-...
    accounts: tuple[DemoAccount, ...]
    targeted_ous: tuple[str, ...]  # paths

    @property
    def central(self) -> DemoAccount:
        return next(a for a in self.accounts if a.name == CENTRAL_ACCOUNT_NAME)

    def targeted_ou_ids(self) -> list[str]:
        return [self.ou_ids[path] for path in self.targeted_ous]

    def members_in_targets(self) -> list[DemoAccount]:
        return [a for a in self.accounts if any(a.ou_path.startswith(f"Root/{t}") for t in self.targeted_ous)]


CENTRAL_ACCOUNT_NAME = "shared-services"
OU_PATHS = (
    "Infrastructure",
    "Security",
    "Workloads",
    "Workloads/Prod",
    "Workloads/Prod/Payments",
    "Workloads/NonProd",
    "Sandbox",
)
TARGETED = ("Infrastructure", "Security", "Workloads")
ACCOUNTS: tuple[tuple[str, str, dict[str, str]], ...] = (
    (CENTRAL_ACCOUNT_NAME, "Infrastructure", {"team": "platform", "environment": "shared"}),
    ("network", "Infrastructure", {"team": "network", "environment": "shared"}),
    ("security-tooling", "Security", {"team": "security", "environment": "shared"}),
    ("log-archive", "Security", {"team": "security", "environment": "shared"}),
    ("web-prod", "Workloads/Prod", {"team": "web", "environment": "prod"}),
    ("payments-prod", "Workloads/Prod/Payments", {"team": "payments", "environment": "prod"}),
    ("web-staging", "Workloads/NonProd", {"team": "web", "environment": "staging"}),
    ("data-dev", "Workloads/NonProd", {"team": "data", "environment": "dev"}),
    ("sandbox-alice", "Sandbox", {"team": "alice", "environment": "sandbox"}),
)


def create_account(org: Any, name: str, parent_id: str, root_id: str, tags: Mapping[str, str]) -> str:
    status = org.create_account(
        AccountName=name,
        Email=f"{name}@{DEMO_EMAIL_DOMAIN}",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["CreateAccountStatus"]
    account_id = str(status["AccountId"])
    if parent_id != root_id:
        org.move_account(AccountId=account_id, SourceParentId=root_id, DestinationParentId=parent_id)
    return account_id


def build_demo_organization(organizations: Any) -> DemoOrganization:
    """Create the organisation with `organizations`, a client of the management account."""
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]
    root_id = organizations.list_roots()["Roots"][0]["Id"]
    ou_ids: dict[str, str] = {}
    for path in OU_PATHS:
        parent, _, name = path.rpartition("/")
        parent_id = ou_ids[parent] if parent else root_id
        ou_ids[path] = organizations.create_organizational_unit(ParentId=parent_id, Name=name)[
            "OrganizationalUnit"
        ]["Id"]
    accounts = tuple(
        DemoAccount(create_account(organizations, name, ou_ids[ou], root_id, tags), name, f"Root/{ou}", tags)
        for name, ou, tags in ACCOUNTS
    )
    return DemoOrganization(
        organization_id=organization["Id"],
        root_id=root_id,
        management_account=organization["MasterAccountId"],
        ou_ids=ou_ids,
        accounts=accounts,
        targeted_ous=TARGETED,
    )


# Every demo account gets an IAM account alias (set inside the account, where IAM keeps it), so the
# directory refresh reads them through each account's alias-reader role; none comes from a file.
ALIAS_PREFIX = "acme-"
MANAGEMENT_ALIAS = "acme-management"


def demo_alias(name: str) -> str:
    return f"{ALIAS_PREFIX}{name}"


def set_account_alias(iam: Any, alias: str) -> None:
    """`iam`: a client acting in the account (CreateAccountAlias names the caller's own account)."""
    iam.create_account_alias(AccountAlias=alias)
