"""What the watchdog reads from AWS. Clients are passed in (the lookup role's, for the management
account's Organizations, CloudFormation StackSets and Account Management APIs).

- Accounts: ListAccounts (names, state) and a walk of each targeted OU's subtree
  (ListAccountsForParent, ListOrganizationalUnitsForParent), nested OUs included, as StackSets
  deploys to them.
- Stack instances: ListStackInstances of the member StackSet (from the management account).
- Opted-in regions: Account Management ListRegions with AccountId, which AWS allows from the
  management account (or a delegated administrator) of an organisation with all features and
  trusted access for Account Management; the management account reads its own without AccountId.
  Only regions an account opted in to (status ENABLED) count: the regions enabled by default
  (ENABLED_BY_DEFAULT) are in every account, and leaving some of them out of the configuration is
  the operator's choice, not news (`e2p status` lists them).
- Dead-letter queues: GetQueueAttributes ApproximateNumberOfMessages.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from handler.coverage.evaluate import Account, Instance

logger = logging.getLogger(__name__)

# An opt-in region the account enabled. ENABLING (in progress) is reported once it is ENABLED.
OPTED_IN_STATUSES: Final = ("ENABLED",)
# A CURRENT instance whose stack is being updated (PENDING, RUNNING) still forwards: only a failed,
# cancelled or skipped operation, or an instance not CURRENT, leaves its pair uncovered.
OK_DETAILED_STATUSES: Final = frozenset({"", "SUCCEEDED", "PENDING", "RUNNING"})


def _is_active(account: dict[str, Any]) -> bool:
    # `State` (ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED) replaces the older `Status`.
    return str(account.get("State") or account.get("Status") or "ACTIVE") == "ACTIVE"


def organisation_accounts(
    client: Any, units: Iterable[str], management_id: str
) -> tuple[list[Account], Account | None]:
    """(active accounts below `units`, management account excluded; the management account)."""
    names: dict[str, str] = {}
    active: set[str] = set()
    for page in client.get_paginator("list_accounts").paginate():
        for account in page.get("Accounts", []):
            names[account["Id"]] = str(account.get("Name", ""))
            if _is_active(account):
                active.add(account["Id"])
    paths: dict[str, str] = {}
    pending: deque[tuple[str, str]] = deque((unit, unit) for unit in units)
    seen_units: set[str] = set()
    while pending:
        parent, path = pending.popleft()
        if parent in seen_units:
            continue
        seen_units.add(parent)
        for page in client.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
            for account in page.get("Accounts", []):
                paths.setdefault(account["Id"], path)
        for page in client.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent):
            for unit in page.get("OrganizationalUnits", []):
                pending.append((unit["Id"], f"{path}/{unit.get('Name', unit['Id'])}"))
    members = [
        Account(account_id, names.get(account_id, ""), path)
        for account_id, path in sorted(paths.items())
        if account_id in active and account_id != management_id
    ]
    management = Account(management_id, names.get(management_id, "")) if management_id else None
    return members, management


def stack_instances(client: Any, stackset_name: str) -> list[Instance]:
    found = []
    for page in client.get_paginator("list_stack_instances").paginate(StackSetName=stackset_name):
        for summary in page.get("Summaries", []):
            status = str(summary.get("Status", ""))
            detailed = str((summary.get("StackInstanceStatus") or {}).get("DetailedStatus", ""))
            label = (
                status
                if status == "CURRENT" and detailed in OK_DETAILED_STATUSES
                else f"{status} ({detailed})"
            )
            if status != "CURRENT" and not detailed:
                label = status
            found.append(Instance(str(summary["Account"]), str(summary["Region"]), label))
    return found


def enabled_regions(
    client: Any, account_ids: Iterable[str], management_id: str
) -> dict[str, frozenset[str] | None]:
    """account -> the opt-in regions enabled in it; None for an account whose regions could not be
    read (logged): no alert is concluded from what was not seen."""
    result: dict[str, frozenset[str] | None] = {}
    for account_id in account_ids:
        # The management account cannot name itself in AccountId: it reads its own regions.
        scope = {} if account_id == management_id else {"AccountId": account_id}
        try:
            regions: set[str] = set()
            for page in client.get_paginator("list_regions").paginate(
                RegionOptStatusContains=list(OPTED_IN_STATUSES), **scope
            ):
                regions.update(str(r["RegionName"]) for r in page.get("Regions", []))
            result[account_id] = frozenset(regions)
        except (ClientError, BotoCoreError) as exc:
            logger.warning(
                "enabled regions not readable", extra={"account_id": account_id, "error": str(exc)}
            )
            result[account_id] = None
    return result


def queue_label(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def queue_depths(client: Any, urls: Iterable[str]) -> dict[str, int]:
    depths = {}
    for url in urls:
        attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        depths[queue_label(url)] = int(attributes["Attributes"].get("ApproximateNumberOfMessages", 0))
    return depths
